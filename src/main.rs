use clap::Parser;

#[rocket::main]
async fn main() {
    let cli = gatehouse::cli::Cli::parse();
    std::process::exit(gatehouse::cli::run(cli).await);
}
