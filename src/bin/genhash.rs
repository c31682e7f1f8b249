//! `genhash`: MD5 of an HTTP(S) page body for HTTP_GET/SSL_GET `digest` (spec §9).
#![forbid(unsafe_code)]

fn main() {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    std::process::exit(keepalived::cli::genhash_main(&args, "genhash"));
}
