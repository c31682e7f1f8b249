//! `genhash`: MD5 of an HTTP(S) page body for HTTP_GET/SSL_GET `digest`.
#![forbid(unsafe_code)]

fn main() {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let prog = argv.first().map(String::as_str).unwrap_or("genhash");
    let args = argv.get(1..).unwrap_or_default();
    std::process::exit(keepalived::cli::genhash_main(args, prog, false));
}
