
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'pattern-guard' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'pattern-guard'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'pattern-guard' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where history is kept (default: $XDG_RUNTIME_DIR/pattern-guard)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Share histories through a Redis store: redis://[:PASSWORD@]HOST:PORT/DB, rediss://..., redis+unix:///PATH (default: [store] url; without one, the state directory)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour messages')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log line format on stderr')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who runs it: history and limits are per actor')
            [CompletionResult]::new('--action', '--action', [CompletionResultType]::ParameterName, 'What is done')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'What it is done to (default for a run: the command line)')
            [CompletionResult]::new('--weight', '--weight', [CompletionResultType]::ParameterName, 'Cost of the event, summed against weight_max_total')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Run the command N times in this process, each run one event')
            [CompletionResult]::new('--repeat', '--repeat', [CompletionResultType]::ParameterName, 'Run the command N times in this process, each run one event')
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'Wait this long between repeated runs (30s, 5m, 1h30m, or seconds)')
            [CompletionResult]::new('--max-runtime', '--max-runtime', [CompletionResultType]::ParameterName, 'Stop the command (SIGTERM to its process group) after it has run this long; `auto` learns the limit from the job''s recent runs (runtime_factor x their 90th percentile)')
            [CompletionResult]::new('--kill-after', '--kill-after', [CompletionResultType]::ParameterName, 'After SIGTERM, wait this long before SIGKILL')
            [CompletionResult]::new('--max-concurrent', '--max-concurrent', [CompletionResultType]::ParameterName, 'At most N runs of this actor''s job at once (across invocations)')
            [CompletionResult]::new('--on-overlap', '--on-overlap', [CompletionResultType]::ParameterName, 'At the --max-concurrent limit: refuse (exit 75) or wait for a run to end')
            [CompletionResult]::new('--metrics-file', '--metrics-file', [CompletionResultType]::ParameterName, 'After each run, write the actor''s last run and its runs by decision in the window to PATH in the Prometheus text format (atomically), for node_exporter''s textfile collector')
            [CompletionResult]::new('--block-exit-code', '--block-exit-code', [CompletionResultType]::ParameterName, 'Exit code when blocked')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more (-v debug, -vv trace); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more (-v debug, -vv trace); RUST_LOG overrides')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Decide and report, but never delay, block or kill, and record nothing')
            [CompletionResult]::new('--explain', '--explain', [CompletionResultType]::ParameterName, 'Print the decision and its reasons on stderr for every run')
            [CompletionResult]::new('--watch-output', '--watch-output', [CompletionResultType]::ParameterName, 'Watch the command''s output and stop it when it loops (the same lines over and over): warn, throttle, then stop as a runaway. Its stdout and stderr become pipes')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Record one event and print the decision (exit 0 allow, 10 warn, 11 delay, 75 block)')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show what is remembered per actor: recent events, escalation, cool-down, running instances and what its next run would get')
            [CompletionResult]::new('reset', 'reset', [CompletionResultType]::ParameterValue, 'Forget the history of one actor, or of all with --all')
            [CompletionResult]::new('config', 'config', [CompletionResultType]::ParameterValue, 'Work with the configuration')
            [CompletionResult]::new('replay', 'replay', [CompletionResultType]::ParameterValue, 'Replay recorded events (JSON Lines or an access log) through the guard, each at its own time, and report what it would have decided. Nothing is recorded in the state')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script (bash, zsh, fish, elvish, powershell)')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (roff)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'pattern-guard;check' {
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who runs it: history and limits are per actor')
            [CompletionResult]::new('--action', '--action', [CompletionResultType]::ParameterName, 'What is done')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'What it is done to (default for a run: the command line)')
            [CompletionResult]::new('--weight', '--weight', [CompletionResultType]::ParameterName, 'Cost of the event, summed against weight_max_total')
            [CompletionResult]::new('--at', '--at', [CompletionResultType]::ParameterName, 'When the event happened (RFC 3339, or seconds since the Unix epoch; default now), to feed events that were queued or logged')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where history is kept (default: $XDG_RUNTIME_DIR/pattern-guard)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Share histories through a Redis store: redis://[:PASSWORD@]HOST:PORT/DB, rediss://..., redis+unix:///PATH (default: [store] url; without one, the state directory)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour messages')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log line format on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the assessment as JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more (-v debug, -vv trace); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more (-v debug, -vv trace); RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'pattern-guard;status' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where history is kept (default: $XDG_RUNTIME_DIR/pattern-guard)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Share histories through a Redis store: redis://[:PASSWORD@]HOST:PORT/DB, rediss://..., redis+unix:///PATH (default: [store] url; without one, the state directory)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour messages')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log line format on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print as JSON on stdout')
            [CompletionResult]::new('--prometheus', '--prometheus', [CompletionResultType]::ParameterName, 'Print in the Prometheus text format on stdout (for node_exporter''s textfile collector or a scrape-by-cron setup)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more (-v debug, -vv trace); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more (-v debug, -vv trace); RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'pattern-guard;reset' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where history is kept (default: $XDG_RUNTIME_DIR/pattern-guard)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Share histories through a Redis store: redis://[:PASSWORD@]HOST:PORT/DB, rediss://..., redis+unix:///PATH (default: [store] url; without one, the state directory)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour messages')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log line format on stderr')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Forget every actor')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more (-v debug, -vv trace); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more (-v debug, -vv trace); RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'pattern-guard;config' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where history is kept (default: $XDG_RUNTIME_DIR/pattern-guard)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Share histories through a Redis store: redis://[:PASSWORD@]HOST:PORT/DB, rediss://..., redis+unix:///PATH (default: [store] url; without one, the state directory)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour messages')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log line format on stderr')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more (-v debug, -vv trace); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more (-v debug, -vv trace); RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Validate the configuration and print the effective settings for an actor')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'pattern-guard;config;check' {
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'The actor whose effective settings to print')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where history is kept (default: $XDG_RUNTIME_DIR/pattern-guard)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Share histories through a Redis store: redis://[:PASSWORD@]HOST:PORT/DB, rediss://..., redis+unix:///PATH (default: [store] url; without one, the state directory)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour messages')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log line format on stderr')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more (-v debug, -vv trace); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more (-v debug, -vv trace); RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'pattern-guard;config;help' {
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Validate the configuration and print the effective settings for an actor')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'pattern-guard;config;help;check' {
            break
        }
        'pattern-guard;config;help;help' {
            break
        }
        'pattern-guard;replay' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'The input''s format: auto (recognized from the first lines), jsonl, combined, common, sshd, nginx-error, apache-error, regex (with --pattern), or NAME from [replay.formats.NAME] in the config')
            [CompletionResult]::new('--pattern', '--pattern', [CompletionResultType]::ParameterName, 'A regex with named groups: actor (required), time, action, target, weight. Repeat it for several; the first that matches a line wins. Implies --format regex')
            [CompletionResult]::new('--prefix', '--prefix', [CompletionResultType]::ParameterName, 'What every line starts with, as a regex (groups time, action, target, weight; not actor), matched once before the --pattern regexes, which then read the rest of the line')
            [CompletionResult]::new('--time-format', '--time-format', [CompletionResultType]::ParameterName, 'How the time group is written, strftime-style ("%b %d %H:%M:%S", "%Y-%m-%d %H:%M:%S %z"); default: RFC 3339, epoch seconds, access-log or syslog times. Times without an offset are local (TZ)')
            [CompletionResult]::new('--year', '--year', [CompletionResultType]::ParameterName, 'The year of times written without one (syslog''s); default: the year the file was last changed (this year for standard input). Rolls over at New Year')
            [CompletionResult]::new('--action', '--action', [CompletionResultType]::ParameterName, '--pattern formats: the action of lines without an action group (default "event")')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, '--pattern formats: the target of lines without a target group (default "-")')
            [CompletionResult]::new('--weight', '--weight', [CompletionResultType]::ParameterName, '--pattern formats: the weight of lines without a weight group (default 1)')
            [CompletionResult]::new('--decisions', '--decisions', [CompletionResultType]::ParameterName, 'Write every event''s decision and risk to FILE, as JSON Lines; `-` streams them to standard output, a line as each is decided (the summary then goes to standard error)')
            [CompletionResult]::new('--only', '--only', [CompletionResultType]::ParameterName, 'Write only these decisions to --decisions (comma-separated: allow, warn, delay, block)')
            [CompletionResult]::new('--explain', '--explain', [CompletionResultType]::ParameterName, 'Print ACTOR''s timeline: every event with its decision, risk and reasons')
            [CompletionResult]::new('--top', '--top', [CompletionResultType]::ParameterName, 'How many actors the summary lists')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where history is kept (default: $XDG_RUNTIME_DIR/pattern-guard)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Share histories through a Redis store: redis://[:PASSWORD@]HOST:PORT/DB, rediss://..., redis+unix:///PATH (default: [store] url; without one, the state directory)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour messages')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log line format on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the summary as JSON on stdout')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Stop at the first bad line (exit 125) instead of counting it and going on')
            [CompletionResult]::new('--drop-query', '--drop-query', [CompletionResultType]::ParameterName, 'Access logs: drop the query string from the path (`/search?q=x` counts as `/search`)')
            [CompletionResult]::new('--weight-from-size', '--weight-from-size', [CompletionResultType]::ParameterName, 'Access logs: weigh each request by its response size in bytes (set weight_max_total to match)')
            [CompletionResult]::new('--parse-only', '--parse-only', [CompletionResultType]::ParameterName, 'Read and check the input without running the guard (validates a file; times the parser)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more (-v debug, -vv trace); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more (-v debug, -vv trace); RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'pattern-guard;completions' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where history is kept (default: $XDG_RUNTIME_DIR/pattern-guard)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Share histories through a Redis store: redis://[:PASSWORD@]HOST:PORT/DB, rediss://..., redis+unix:///PATH (default: [store] url; without one, the state directory)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour messages')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log line format on stderr')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more (-v debug, -vv trace); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more (-v debug, -vv trace); RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'pattern-guard;man' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where history is kept (default: $XDG_RUNTIME_DIR/pattern-guard)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Share histories through a Redis store: redis://[:PASSWORD@]HOST:PORT/DB, rediss://..., redis+unix:///PATH (default: [store] url; without one, the state directory)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour messages')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log line format on stderr')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors (twice: nothing of pattern-guard''s own but errors)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more (-v debug, -vv trace); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more (-v debug, -vv trace); RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'pattern-guard;help' {
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Record one event and print the decision (exit 0 allow, 10 warn, 11 delay, 75 block)')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show what is remembered per actor: recent events, escalation, cool-down, running instances and what its next run would get')
            [CompletionResult]::new('reset', 'reset', [CompletionResultType]::ParameterValue, 'Forget the history of one actor, or of all with --all')
            [CompletionResult]::new('config', 'config', [CompletionResultType]::ParameterValue, 'Work with the configuration')
            [CompletionResult]::new('replay', 'replay', [CompletionResultType]::ParameterValue, 'Replay recorded events (JSON Lines or an access log) through the guard, each at its own time, and report what it would have decided. Nothing is recorded in the state')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script (bash, zsh, fish, elvish, powershell)')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (roff)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'pattern-guard;help;check' {
            break
        }
        'pattern-guard;help;status' {
            break
        }
        'pattern-guard;help;reset' {
            break
        }
        'pattern-guard;help;config' {
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Validate the configuration and print the effective settings for an actor')
            break
        }
        'pattern-guard;help;config;check' {
            break
        }
        'pattern-guard;help;replay' {
            break
        }
        'pattern-guard;help;completions' {
            break
        }
        'pattern-guard;help;man' {
            break
        }
        'pattern-guard;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
