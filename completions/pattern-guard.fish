# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_pattern_guard_global_optspecs
    string join \n c/config= state-dir= store= q/quiet v/verbose color= log-format= actor= action= target= weight= n/repeat= interval= max-runtime= kill-after= max-concurrent= on-overlap= dry-run explain watch-output metrics-file= block-exit-code= h/help V/version
end

function __fish_pattern_guard_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_pattern_guard_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_pattern_guard_using_subcommand
    set -l cmd (__fish_pattern_guard_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -s c -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)' -r -F
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -l state-dir -d 'Where history is kept (default: $XDG_RUNTIME_DIR/pattern-guard)' -r -F
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -l store -d 'Share histories through a Redis store: redis://[:PASSWORD@]HOST:PORT/DB, rediss://..., redis+unix:///PATH (default: [store] url; without one, the state directory)' -r
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -l color -d 'When to colour messages' -r -f -a "auto\t''
always\t''
never\t''"
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -l log-format -d 'Log line format on stderr' -r -f -a "text\t''
json\t''"
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -l actor -d 'Who runs it: history and limits are per actor' -r
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -l action -d 'What is done' -r
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -l target -d 'What it is done to (default for a run: the command line)' -r
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -l weight -d 'Cost of the event, summed against weight_max_total' -r
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -s n -l repeat -d 'Run the command N times in this process, each run one event' -r
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -l interval -d 'Wait this long between repeated runs (30s, 5m, 1h30m, or seconds)' -r
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -l max-runtime -d 'Stop the command (SIGTERM to its process group) after it has run this long; `auto` learns the limit from the job\'s recent runs (runtime_factor x their 90th percentile)' -r
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -l kill-after -d 'After SIGTERM, wait this long before SIGKILL' -r
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -l max-concurrent -d 'At most N runs of this actor\'s job at once (across invocations)' -r
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -l on-overlap -d 'At the --max-concurrent limit: refuse (exit 75) or wait for a run to end' -r -f -a "refuse\t''
wait\t''"
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -l metrics-file -d 'After each run, write the actor\'s last run and its runs by decision in the window to PATH in the Prometheus text format (atomically), for node_exporter\'s textfile collector' -r -F
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -l block-exit-code -d 'Exit code when blocked' -r
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -s q -l quiet -d 'Print less: only errors (twice: nothing of pattern-guard\'s own but errors)'
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -s v -l verbose -d 'Log more (-v debug, -vv trace); RUST_LOG overrides'
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -l dry-run -d 'Decide and report, but never delay, block or kill, and record nothing'
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -l explain -d 'Print the decision and its reasons on stderr for every run'
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -l watch-output -d 'Watch the command\'s output and stop it when it loops (the same lines over and over): warn, throttle, then stop as a runaway. Its stdout and stderr become pipes'
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -s V -l version -d 'Print version'
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -a "check" -d 'Record one event and print the decision (exit 0 allow, 10 warn, 11 delay, 75 block)'
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -a "status" -d 'Show what is remembered per actor: recent events, escalation, cool-down, running instances and what its next run would get'
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -a "reset" -d 'Forget the history of one actor, or of all with --all'
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -a "config" -d 'Work with the configuration'
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -a "replay" -d 'Replay recorded events (JSON Lines or an access log) through the guard, each at its own time, and report what it would have decided. Nothing is recorded in the state'
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -a "man" -d 'Print the man page (roff)'
complete -c pattern-guard -n "__fish_pattern_guard_needs_command" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand check" -l actor -d 'Who runs it: history and limits are per actor' -r
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand check" -l action -d 'What is done' -r
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand check" -l target -d 'What it is done to (default for a run: the command line)' -r
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand check" -l weight -d 'Cost of the event, summed against weight_max_total' -r
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand check" -l at -d 'When the event happened (RFC 3339, or seconds since the Unix epoch; default now), to feed events that were queued or logged' -r
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand check" -s c -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)' -r -F
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand check" -l state-dir -d 'Where history is kept (default: $XDG_RUNTIME_DIR/pattern-guard)' -r -F
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand check" -l store -d 'Share histories through a Redis store: redis://[:PASSWORD@]HOST:PORT/DB, rediss://..., redis+unix:///PATH (default: [store] url; without one, the state directory)' -r
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand check" -l color -d 'When to colour messages' -r -f -a "auto\t''
always\t''
never\t''"
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand check" -l log-format -d 'Log line format on stderr' -r -f -a "text\t''
json\t''"
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand check" -l json -d 'Print the assessment as JSON on stdout'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand check" -s q -l quiet -d 'Print less: only errors (twice: nothing of pattern-guard\'s own but errors)'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand check" -s v -l verbose -d 'Log more (-v debug, -vv trace); RUST_LOG overrides'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand check" -s h -l help -d 'Print help'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand status" -s c -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)' -r -F
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand status" -l state-dir -d 'Where history is kept (default: $XDG_RUNTIME_DIR/pattern-guard)' -r -F
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand status" -l store -d 'Share histories through a Redis store: redis://[:PASSWORD@]HOST:PORT/DB, rediss://..., redis+unix:///PATH (default: [store] url; without one, the state directory)' -r
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand status" -l color -d 'When to colour messages' -r -f -a "auto\t''
always\t''
never\t''"
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand status" -l log-format -d 'Log line format on stderr' -r -f -a "text\t''
json\t''"
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand status" -l json -d 'Print as JSON on stdout'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand status" -l prometheus -d 'Print in the Prometheus text format on stdout (for node_exporter\'s textfile collector or a scrape-by-cron setup)'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand status" -s q -l quiet -d 'Print less: only errors (twice: nothing of pattern-guard\'s own but errors)'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand status" -s v -l verbose -d 'Log more (-v debug, -vv trace); RUST_LOG overrides'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand status" -s h -l help -d 'Print help'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand reset" -s c -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)' -r -F
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand reset" -l state-dir -d 'Where history is kept (default: $XDG_RUNTIME_DIR/pattern-guard)' -r -F
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand reset" -l store -d 'Share histories through a Redis store: redis://[:PASSWORD@]HOST:PORT/DB, rediss://..., redis+unix:///PATH (default: [store] url; without one, the state directory)' -r
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand reset" -l color -d 'When to colour messages' -r -f -a "auto\t''
always\t''
never\t''"
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand reset" -l log-format -d 'Log line format on stderr' -r -f -a "text\t''
json\t''"
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand reset" -l all -d 'Forget every actor'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand reset" -s q -l quiet -d 'Print less: only errors (twice: nothing of pattern-guard\'s own but errors)'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand reset" -s v -l verbose -d 'Log more (-v debug, -vv trace); RUST_LOG overrides'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand reset" -s h -l help -d 'Print help'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand config; and not __fish_seen_subcommand_from check help" -s c -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)' -r -F
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand config; and not __fish_seen_subcommand_from check help" -l state-dir -d 'Where history is kept (default: $XDG_RUNTIME_DIR/pattern-guard)' -r -F
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand config; and not __fish_seen_subcommand_from check help" -l store -d 'Share histories through a Redis store: redis://[:PASSWORD@]HOST:PORT/DB, rediss://..., redis+unix:///PATH (default: [store] url; without one, the state directory)' -r
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand config; and not __fish_seen_subcommand_from check help" -l color -d 'When to colour messages' -r -f -a "auto\t''
always\t''
never\t''"
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand config; and not __fish_seen_subcommand_from check help" -l log-format -d 'Log line format on stderr' -r -f -a "text\t''
json\t''"
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand config; and not __fish_seen_subcommand_from check help" -s q -l quiet -d 'Print less: only errors (twice: nothing of pattern-guard\'s own but errors)'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand config; and not __fish_seen_subcommand_from check help" -s v -l verbose -d 'Log more (-v debug, -vv trace); RUST_LOG overrides'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand config; and not __fish_seen_subcommand_from check help" -s h -l help -d 'Print help'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand config; and not __fish_seen_subcommand_from check help" -f -a "check" -d 'Validate the configuration and print the effective settings for an actor'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand config; and not __fish_seen_subcommand_from check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand config; and __fish_seen_subcommand_from check" -l actor -d 'The actor whose effective settings to print' -r
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand config; and __fish_seen_subcommand_from check" -s c -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)' -r -F
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand config; and __fish_seen_subcommand_from check" -l state-dir -d 'Where history is kept (default: $XDG_RUNTIME_DIR/pattern-guard)' -r -F
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand config; and __fish_seen_subcommand_from check" -l store -d 'Share histories through a Redis store: redis://[:PASSWORD@]HOST:PORT/DB, rediss://..., redis+unix:///PATH (default: [store] url; without one, the state directory)' -r
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand config; and __fish_seen_subcommand_from check" -l color -d 'When to colour messages' -r -f -a "auto\t''
always\t''
never\t''"
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand config; and __fish_seen_subcommand_from check" -l log-format -d 'Log line format on stderr' -r -f -a "text\t''
json\t''"
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand config; and __fish_seen_subcommand_from check" -s q -l quiet -d 'Print less: only errors (twice: nothing of pattern-guard\'s own but errors)'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand config; and __fish_seen_subcommand_from check" -s v -l verbose -d 'Log more (-v debug, -vv trace); RUST_LOG overrides'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand config; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "check" -d 'Validate the configuration and print the effective settings for an actor'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand replay" -l format -d 'The input\'s format: auto (recognized from the first lines), jsonl, combined, common, sshd, nginx-error, apache-error, regex (with --pattern), or NAME from [replay.formats.NAME] in the config' -r
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand replay" -l pattern -d 'A regex with named groups: actor (required), time, action, target, weight. Repeat it for several; the first that matches a line wins. Implies --format regex' -r
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand replay" -l prefix -d 'What every line starts with, as a regex (groups time, action, target, weight; not actor), matched once before the --pattern regexes, which then read the rest of the line' -r
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand replay" -l time-format -d 'How the time group is written, strftime-style ("%b %d %H:%M:%S", "%Y-%m-%d %H:%M:%S %z"); default: RFC 3339, epoch seconds, access-log or syslog times. Times without an offset are local (TZ)' -r
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand replay" -l year -d 'The year of times written without one (syslog\'s); default: the year the file was last changed (this year for standard input). Rolls over at New Year' -r
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand replay" -l action -d '--pattern formats: the action of lines without an action group (default "event")' -r
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand replay" -l target -d '--pattern formats: the target of lines without a target group (default "-")' -r
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand replay" -l weight -d '--pattern formats: the weight of lines without a weight group (default 1)' -r
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand replay" -l decisions -d 'Write every event\'s decision and risk to FILE, as JSON Lines; `-` streams them to standard output, a line as each is decided (the summary then goes to standard error)' -r -F
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand replay" -l only -d 'Write only these decisions to --decisions (comma-separated: allow, warn, delay, block)' -r -f -a "allow\t''
warn\t''
delay\t''
block\t''"
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand replay" -l explain -d 'Print ACTOR\'s timeline: every event with its decision, risk and reasons' -r
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand replay" -l top -d 'How many actors the summary lists' -r
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand replay" -s c -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)' -r -F
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand replay" -l state-dir -d 'Where history is kept (default: $XDG_RUNTIME_DIR/pattern-guard)' -r -F
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand replay" -l store -d 'Share histories through a Redis store: redis://[:PASSWORD@]HOST:PORT/DB, rediss://..., redis+unix:///PATH (default: [store] url; without one, the state directory)' -r
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand replay" -l color -d 'When to colour messages' -r -f -a "auto\t''
always\t''
never\t''"
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand replay" -l log-format -d 'Log line format on stderr' -r -f -a "text\t''
json\t''"
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand replay" -l json -d 'Print the summary as JSON on stdout'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand replay" -l strict -d 'Stop at the first bad line (exit 125) instead of counting it and going on'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand replay" -l drop-query -d 'Access logs: drop the query string from the path (`/search?q=x` counts as `/search`)'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand replay" -l weight-from-size -d 'Access logs: weigh each request by its response size in bytes (set weight_max_total to match)'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand replay" -l parse-only -d 'Read and check the input without running the guard (validates a file; times the parser)'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand replay" -s q -l quiet -d 'Print less: only errors (twice: nothing of pattern-guard\'s own but errors)'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand replay" -s v -l verbose -d 'Log more (-v debug, -vv trace); RUST_LOG overrides'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand replay" -s h -l help -d 'Print help'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand completions" -s c -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)' -r -F
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand completions" -l state-dir -d 'Where history is kept (default: $XDG_RUNTIME_DIR/pattern-guard)' -r -F
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand completions" -l store -d 'Share histories through a Redis store: redis://[:PASSWORD@]HOST:PORT/DB, rediss://..., redis+unix:///PATH (default: [store] url; without one, the state directory)' -r
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand completions" -l color -d 'When to colour messages' -r -f -a "auto\t''
always\t''
never\t''"
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand completions" -l log-format -d 'Log line format on stderr' -r -f -a "text\t''
json\t''"
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand completions" -s q -l quiet -d 'Print less: only errors (twice: nothing of pattern-guard\'s own but errors)'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand completions" -s v -l verbose -d 'Log more (-v debug, -vv trace); RUST_LOG overrides'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand completions" -s h -l help -d 'Print help'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand man" -s c -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in)' -r -F
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand man" -l state-dir -d 'Where history is kept (default: $XDG_RUNTIME_DIR/pattern-guard)' -r -F
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand man" -l store -d 'Share histories through a Redis store: redis://[:PASSWORD@]HOST:PORT/DB, rediss://..., redis+unix:///PATH (default: [store] url; without one, the state directory)' -r
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand man" -l color -d 'When to colour messages' -r -f -a "auto\t''
always\t''
never\t''"
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand man" -l log-format -d 'Log line format on stderr' -r -f -a "text\t''
json\t''"
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand man" -s q -l quiet -d 'Print less: only errors (twice: nothing of pattern-guard\'s own but errors)'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand man" -s v -l verbose -d 'Log more (-v debug, -vv trace); RUST_LOG overrides'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand man" -s h -l help -d 'Print help'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand help; and not __fish_seen_subcommand_from check status reset config replay completions man help" -f -a "check" -d 'Record one event and print the decision (exit 0 allow, 10 warn, 11 delay, 75 block)'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand help; and not __fish_seen_subcommand_from check status reset config replay completions man help" -f -a "status" -d 'Show what is remembered per actor: recent events, escalation, cool-down, running instances and what its next run would get'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand help; and not __fish_seen_subcommand_from check status reset config replay completions man help" -f -a "reset" -d 'Forget the history of one actor, or of all with --all'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand help; and not __fish_seen_subcommand_from check status reset config replay completions man help" -f -a "config" -d 'Work with the configuration'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand help; and not __fish_seen_subcommand_from check status reset config replay completions man help" -f -a "replay" -d 'Replay recorded events (JSON Lines or an access log) through the guard, each at its own time, and report what it would have decided. Nothing is recorded in the state'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand help; and not __fish_seen_subcommand_from check status reset config replay completions man help" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand help; and not __fish_seen_subcommand_from check status reset config replay completions man help" -f -a "man" -d 'Print the man page (roff)'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand help; and not __fish_seen_subcommand_from check status reset config replay completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pattern-guard -n "__fish_pattern_guard_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "check" -d 'Validate the configuration and print the effective settings for an actor'
