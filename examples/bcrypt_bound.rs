//! The machine's bcrypt bound, measured with gatehouse's own hashing (bcrypt over the
//! SHA-384 pre-hash, `gatehouse::auth::password::hash`): how many hashes per second all cores
//! together complete. bench/run.sh divides the sign-ins of the login flood by this.
//!
//!   cargo run --release --example bcrypt_bound -- [COST] [ROUNDS]
//!
//! Prints one line: `cost=12 threads=2 single_ms=234.1 parallel_per_s=8.43 rounds=4`, where
//! `single_ms` is the median of 3 hashes on an otherwise idle machine and `parallel_per_s`
//! the rate of one thread per core, each hashing ROUNDS times.

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let cost: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(12);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let password = "correct horse battery staple";
    let hash = || {
        gatehouse::auth::password::hash(password, cost).unwrap_or_else(|e| {
            eprintln!("bcrypt_bound: cannot hash at cost {cost}: {e}");
            std::process::exit(2)
        })
    };
    let mut single: Vec<f64> = (0..3)
        .map(|_| {
            let t = Instant::now();
            hash();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    single.sort_by(f64::total_cmp);
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| (0..rounds).for_each(|_| drop(hash())));
        }
    });
    let per_s = (threads * rounds) as f64 / t.elapsed().as_secs_f64();
    println!(
        "cost={cost} threads={threads} single_ms={:.1} parallel_per_s={per_s:.3} rounds={rounds}",
        single[1]
    );
}
