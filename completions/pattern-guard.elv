
use builtin;
use str;

set edit:completion:arg-completer[pattern-guard] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'pattern-guard'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'pattern-guard'= {
            cand -c 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)'
            cand --config 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)'
            cand --state-dir 'Where history is kept (default: $XDG_RUNTIME_DIR/pattern-guard)'
            cand --store 'Share histories through a Redis store: redis://[:PASSWORD@]HOST:PORT/DB, rediss://..., redis+unix:///PATH (default: [store] url; without one, the state directory)'
            cand --color 'When to colour messages'
            cand --log-format 'Log line format on stderr'
            cand --actor 'Who runs it: history and limits are per actor'
            cand --action 'What is done'
            cand --target 'What it is done to (default for a run: the command line)'
            cand --weight 'Cost of the event, summed against weight_max_total'
            cand -n 'Run the command N times in this process, each run one event'
            cand --repeat 'Run the command N times in this process, each run one event'
            cand --interval 'Wait this long between repeated runs (30s, 5m, 1h30m, or seconds)'
            cand --max-runtime 'Stop the command (SIGTERM to its process group) after it has run this long; `auto` learns the limit from the job''s recent runs (runtime_factor x their 90th percentile)'
            cand --kill-after 'After SIGTERM, wait this long before SIGKILL'
            cand --max-concurrent 'At most N runs of this actor''s job at once (across invocations)'
            cand --on-overlap 'At the --max-concurrent limit: refuse (exit 75) or wait for a run to end'
            cand --metrics-file 'After each run, write the actor''s last run and its runs by decision in the window to PATH in the Prometheus text format (atomically), for node_exporter''s textfile collector'
            cand --block-exit-code 'Exit code when blocked'
            cand -q 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)'
            cand --quiet 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)'
            cand -v 'Log more (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'Log more (-v debug, -vv trace); RUST_LOG overrides'
            cand --dry-run 'Decide and report, but never delay, block or kill, and record nothing'
            cand --explain 'Print the decision and its reasons on stderr for every run'
            cand --watch-output 'Watch the command''s output and stop it when it loops (the same lines over and over): warn, throttle, then stop as a runaway. Its stdout and stderr become pipes'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand check 'Record one event and print the decision (exit 0 allow, 10 warn, 11 delay, 75 block)'
            cand status 'Show what is remembered per actor: recent events, escalation, cool-down, running instances and what its next run would get'
            cand reset 'Forget the history of one actor, or of all with --all'
            cand config 'Work with the configuration'
            cand replay 'Replay recorded events (JSON Lines or an access log) through the guard, each at its own time, and report what it would have decided. Nothing is recorded in the state'
            cand completions 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
            cand man 'Print the man page (roff)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'pattern-guard;check'= {
            cand --actor 'Who runs it: history and limits are per actor'
            cand --action 'What is done'
            cand --target 'What it is done to (default for a run: the command line)'
            cand --weight 'Cost of the event, summed against weight_max_total'
            cand --at 'When the event happened (RFC 3339, or seconds since the Unix epoch; default now), to feed events that were queued or logged'
            cand -c 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)'
            cand --config 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)'
            cand --state-dir 'Where history is kept (default: $XDG_RUNTIME_DIR/pattern-guard)'
            cand --store 'Share histories through a Redis store: redis://[:PASSWORD@]HOST:PORT/DB, rediss://..., redis+unix:///PATH (default: [store] url; without one, the state directory)'
            cand --color 'When to colour messages'
            cand --log-format 'Log line format on stderr'
            cand --json 'Print the assessment as JSON on stdout'
            cand -q 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)'
            cand --quiet 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)'
            cand -v 'Log more (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'Log more (-v debug, -vv trace); RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'pattern-guard;status'= {
            cand -c 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)'
            cand --config 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)'
            cand --state-dir 'Where history is kept (default: $XDG_RUNTIME_DIR/pattern-guard)'
            cand --store 'Share histories through a Redis store: redis://[:PASSWORD@]HOST:PORT/DB, rediss://..., redis+unix:///PATH (default: [store] url; without one, the state directory)'
            cand --color 'When to colour messages'
            cand --log-format 'Log line format on stderr'
            cand --json 'Print as JSON on stdout'
            cand --prometheus 'Print in the Prometheus text format on stdout (for node_exporter''s textfile collector or a scrape-by-cron setup)'
            cand -q 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)'
            cand --quiet 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)'
            cand -v 'Log more (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'Log more (-v debug, -vv trace); RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'pattern-guard;reset'= {
            cand -c 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)'
            cand --config 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)'
            cand --state-dir 'Where history is kept (default: $XDG_RUNTIME_DIR/pattern-guard)'
            cand --store 'Share histories through a Redis store: redis://[:PASSWORD@]HOST:PORT/DB, rediss://..., redis+unix:///PATH (default: [store] url; without one, the state directory)'
            cand --color 'When to colour messages'
            cand --log-format 'Log line format on stderr'
            cand --all 'Forget every actor'
            cand -q 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)'
            cand --quiet 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)'
            cand -v 'Log more (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'Log more (-v debug, -vv trace); RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'pattern-guard;config'= {
            cand -c 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)'
            cand --config 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)'
            cand --state-dir 'Where history is kept (default: $XDG_RUNTIME_DIR/pattern-guard)'
            cand --store 'Share histories through a Redis store: redis://[:PASSWORD@]HOST:PORT/DB, rediss://..., redis+unix:///PATH (default: [store] url; without one, the state directory)'
            cand --color 'When to colour messages'
            cand --log-format 'Log line format on stderr'
            cand -q 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)'
            cand --quiet 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)'
            cand -v 'Log more (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'Log more (-v debug, -vv trace); RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
            cand check 'Validate the configuration and print the effective settings for an actor'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'pattern-guard;config;check'= {
            cand --actor 'The actor whose effective settings to print'
            cand -c 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)'
            cand --config 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)'
            cand --state-dir 'Where history is kept (default: $XDG_RUNTIME_DIR/pattern-guard)'
            cand --store 'Share histories through a Redis store: redis://[:PASSWORD@]HOST:PORT/DB, rediss://..., redis+unix:///PATH (default: [store] url; without one, the state directory)'
            cand --color 'When to colour messages'
            cand --log-format 'Log line format on stderr'
            cand -q 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)'
            cand --quiet 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)'
            cand -v 'Log more (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'Log more (-v debug, -vv trace); RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'pattern-guard;config;help'= {
            cand check 'Validate the configuration and print the effective settings for an actor'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'pattern-guard;config;help;check'= {
        }
        &'pattern-guard;config;help;help'= {
        }
        &'pattern-guard;replay'= {
            cand --format 'The input''s format: auto (recognized from the first lines), jsonl, combined, common, sshd, nginx-error, apache-error, regex (with --pattern), or NAME from [replay.formats.NAME] in the config'
            cand --pattern 'A regex with named groups: actor (required), time, action, target, weight. Repeat it for several; the first that matches a line wins. Implies --format regex'
            cand --prefix 'What every line starts with, as a regex (groups time, action, target, weight; not actor), matched once before the --pattern regexes, which then read the rest of the line'
            cand --time-format 'How the time group is written, strftime-style ("%b %d %H:%M:%S", "%Y-%m-%d %H:%M:%S %z"); default: RFC 3339, epoch seconds, access-log or syslog times. Times without an offset are local (TZ)'
            cand --year 'The year of times written without one (syslog''s); default: the year the file was last changed (this year for standard input). Rolls over at New Year'
            cand --action '--pattern formats: the action of lines without an action group (default "event")'
            cand --target '--pattern formats: the target of lines without a target group (default "-")'
            cand --weight '--pattern formats: the weight of lines without a weight group (default 1)'
            cand --decisions 'Write every event''s decision and risk to FILE, as JSON Lines; `-` streams them to standard output, a line as each is decided (the summary then goes to standard error)'
            cand --only 'Write only these decisions to --decisions (comma-separated: allow, warn, delay, block)'
            cand --explain 'Print ACTOR''s timeline: every event with its decision, risk and reasons'
            cand --top 'How many actors the summary lists'
            cand -c 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)'
            cand --config 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)'
            cand --state-dir 'Where history is kept (default: $XDG_RUNTIME_DIR/pattern-guard)'
            cand --store 'Share histories through a Redis store: redis://[:PASSWORD@]HOST:PORT/DB, rediss://..., redis+unix:///PATH (default: [store] url; without one, the state directory)'
            cand --color 'When to colour messages'
            cand --log-format 'Log line format on stderr'
            cand --json 'Print the summary as JSON on stdout'
            cand --strict 'Stop at the first bad line (exit 125) instead of counting it and going on'
            cand --drop-query 'Access logs: drop the query string from the path (`/search?q=x` counts as `/search`)'
            cand --weight-from-size 'Access logs: weigh each request by its response size in bytes (set weight_max_total to match)'
            cand --parse-only 'Read and check the input without running the guard (validates a file; times the parser)'
            cand -q 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)'
            cand --quiet 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)'
            cand -v 'Log more (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'Log more (-v debug, -vv trace); RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'pattern-guard;completions'= {
            cand -c 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)'
            cand --config 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)'
            cand --state-dir 'Where history is kept (default: $XDG_RUNTIME_DIR/pattern-guard)'
            cand --store 'Share histories through a Redis store: redis://[:PASSWORD@]HOST:PORT/DB, rediss://..., redis+unix:///PATH (default: [store] url; without one, the state directory)'
            cand --color 'When to colour messages'
            cand --log-format 'Log line format on stderr'
            cand -q 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)'
            cand --quiet 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)'
            cand -v 'Log more (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'Log more (-v debug, -vv trace); RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'pattern-guard;man'= {
            cand -c 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)'
            cand --config 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)'
            cand --state-dir 'Where history is kept (default: $XDG_RUNTIME_DIR/pattern-guard)'
            cand --store 'Share histories through a Redis store: redis://[:PASSWORD@]HOST:PORT/DB, rediss://..., redis+unix:///PATH (default: [store] url; without one, the state directory)'
            cand --color 'When to colour messages'
            cand --log-format 'Log line format on stderr'
            cand -q 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)'
            cand --quiet 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)'
            cand -v 'Log more (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'Log more (-v debug, -vv trace); RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'pattern-guard;help'= {
            cand check 'Record one event and print the decision (exit 0 allow, 10 warn, 11 delay, 75 block)'
            cand status 'Show what is remembered per actor: recent events, escalation, cool-down, running instances and what its next run would get'
            cand reset 'Forget the history of one actor, or of all with --all'
            cand config 'Work with the configuration'
            cand replay 'Replay recorded events (JSON Lines or an access log) through the guard, each at its own time, and report what it would have decided. Nothing is recorded in the state'
            cand completions 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
            cand man 'Print the man page (roff)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'pattern-guard;help;check'= {
        }
        &'pattern-guard;help;status'= {
        }
        &'pattern-guard;help;reset'= {
        }
        &'pattern-guard;help;config'= {
            cand check 'Validate the configuration and print the effective settings for an actor'
        }
        &'pattern-guard;help;config;check'= {
        }
        &'pattern-guard;help;replay'= {
        }
        &'pattern-guard;help;completions'= {
        }
        &'pattern-guard;help;man'= {
        }
        &'pattern-guard;help;help'= {
        }
    ]
    $completions[$command]
}
