//! Micro-benchmarks of what a signed-in request costs: token verification (each algorithm,
//! cached and uncached), the CSRF check, and rendering the dashboard template.
//! `cargo bench --bench hot_path`; results in docs/PERFORMANCE.md.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use gatehouse::auth::csrf::{Binding, CsrfKey};
use gatehouse::auth::keys::KeyRing;
use gatehouse::auth::token::{Claims, TokenService};
use gatehouse::config::Alg;
use gatehouse::web::i18n::Lang;
use rocket_dyn_templates::tera::{Context, Tera};
use serde_json::json;

const NOW: i64 = 1_800_000_000;

fn claims() -> Claims {
    Claims {
        iss: "https://login.example.com".into(),
        aud: "https://login.example.com".into(),
        sub: "n5WhUMJXLKZpO20Y7zTirg".into(),
        sid: "18LxuPL0GCeldoOz_TycBg".into(),
        iat: NOW,
        nbf: NOW,
        exp: NOW + 1800,
        auth_time: NOW,
        name: "benchmark".into(),
        amr: vec!["pwd".into()],
    }
}

fn tokens(c: &mut Criterion) {
    for alg in [Alg::EdDSA, Alg::ES256, Alg::RS256, Alg::HS256] {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::load_or_create(dir.path(), alg, NOW).unwrap();
        let svc = TokenService::new(
            ring,
            dir.path(),
            "https://login.example.com",
            "https://login.example.com",
            2_592_000,
        );
        let token = svc.issue(&claims()).unwrap();
        c.bench_function(&format!("verify {alg} uncached"), |b| {
            b.iter(|| svc.verify_uncached(black_box(&token), NOW + 1).unwrap())
        });
        c.bench_function(&format!("verify {alg} cached"), |b| {
            b.iter(|| svc.verify(black_box(&token), NOW + 1).unwrap())
        });
        c.bench_function(&format!("issue {alg}"), |b| {
            b.iter(|| svc.issue(black_box(&claims())).unwrap())
        });
    }
}

fn csrf(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let key = CsrfKey::load_or_create(dir.path()).unwrap();
    let token = key.token(Binding::Session, "18LxuPL0GCeldoOz_TycBg");
    c.bench_function("csrf token", |b| {
        b.iter(|| key.token(Binding::Session, black_box("18LxuPL0GCeldoOz_TycBg")))
    });
    c.bench_function("csrf verify", |b| {
        b.iter(|| {
            key.verify(
                Binding::Session,
                "18LxuPL0GCeldoOz_TycBg",
                black_box(&token),
            )
        })
    });
}

fn templates(c: &mut Criterion) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
    let mut tera = Tera::default();
    let files: Vec<(String, Option<String>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let name = p
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .trim_end_matches(".html.tera")
                .to_string();
            (p.display().to_string(), Some(name))
        })
        .collect();
    tera.add_template_files(files).unwrap();
    tera.autoescape_on(vec![".html.tera", ".tera", ".html"]);
    gatehouse::web::templates::register(&mut tera);
    let assets = gatehouse::web::assets::Assets::new().urls();
    gatehouse::web::templates::add_translations(&mut tera, std::path::Path::new(dir), &assets)
        .unwrap();
    for lang in [Lang::En, Lang::Ko] {
        let ctx = Context::from_serialize(json!({
            "page": "dashboard", "lang": lang.code(), "here": "%2Fdashboard",
            "username": "benchmark", "csrf_token": "x".repeat(64), "form_csrf": "y".repeat(64),
            "greeting": "Welcome, benchmark", "last_login": "Last signed in 26 Nov 2026, 14:40 UTC from 127.0.0.1.",
            "started_iso": "2026-11-26T15:40:00Z", "started_text": "26 Nov 2026, 15:40 UTC",
            "expires_iso": "2026-11-26T16:10:00Z", "expires_text": "26 Nov 2026, 16:10 UTC",
            "absolute_iso": "2026-11-27T03:40:00Z", "absolute_text": "27 Nov 2026, 03:40 UTC",
            "remember": false,
        }))
        .unwrap();
        let translated = gatehouse::web::templates::translated(lang, "dashboard");
        c.bench_function(&format!("render dashboard {}", lang.code()), |b| {
            b.iter(|| tera.render(&translated, black_box(&ctx)).unwrap())
        });
    }
    c.bench_function("one message lookup", |b| {
        b.iter(|| Lang::En.t(black_box("nav-dashboard")))
    });
}

criterion_group!(benches, tokens, csrf, templates);
criterion_main!(benches);
