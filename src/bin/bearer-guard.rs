//! `bearer-guard`: look at a token without pasting it into a web decoder,
//! validate it as the library does, list an issuer's keys. The work is in the
//! library (`bearer_guard::cli`); see the README's "Command-line tool".

fn main() -> std::process::ExitCode {
    bearer_guard::cli::main()
}
