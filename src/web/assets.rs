//! Static files, compiled into the binary so a deployment is one file plus its config.
//! Pages link them as `/static/NAME?v=HASH`: that URL changes whenever the content does,
//! so it can be cached for a year; a plain `/static/NAME` revalidates with its `ETag`.

use std::collections::HashMap;
use std::io::Cursor;

use rocket::http::{ContentType, Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::{get, routes, Route, State};
use serde_json::{Map, Value};

struct Asset {
    body: &'static [u8],
    content_type: ContentType,
    hash: String,
}

pub struct Assets {
    files: HashMap<&'static str, Asset>,
}

macro_rules! asset {
    ($name:literal, $ct:expr) => {
        (
            $name,
            include_bytes!(concat!("../../static/", $name)).as_slice(),
            $ct,
        )
    };
}

impl Assets {
    pub fn new() -> Self {
        let list = [
            asset!("style.css", ContentType::CSS),
            asset!("favicon.svg", ContentType::SVG),
            asset!("app.js", ContentType::JavaScript),
        ];
        let files = list
            .into_iter()
            .map(|(name, body, content_type)| {
                let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body);
                let hash = digest.as_ref()[..8]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                (
                    name,
                    Asset {
                        body,
                        content_type,
                        hash,
                    },
                )
            })
            .collect();
        Assets { files }
    }

    /// `{"style_css": "/static/style.css?v=...", ...}` for templates.
    pub fn urls(&self) -> Map<String, Value> {
        let mut m = Map::new();
        for (name, a) in &self.files {
            m.insert(
                name.replace(['.', '-'], "_"),
                Value::String(format!("/static/{name}?v={}", a.hash)),
            );
        }
        m
    }
}

impl Default for Assets {
    fn default() -> Self {
        Self::new()
    }
}

struct Served<'a> {
    asset: &'a Asset,
    immutable: bool,
}

impl<'r> Responder<'r, 'static> for Served<'r> {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let etag = format!("\"{}\"", self.asset.hash);
        let cache = if self.immutable {
            "public, max-age=31536000, immutable"
        } else {
            "public, max-age=300"
        };
        let mut r = Response::build();
        r.header(Header::new("ETag", etag.clone()))
            .header(Header::new("Cache-Control", cache));
        if req.headers().get("If-None-Match").any(|v| v == etag) {
            return r.status(Status::NotModified).ok();
        }
        r.header(self.asset.content_type.clone())
            .sized_body(self.asset.body.len(), Cursor::new(self.asset.body))
            .ok()
    }
}

#[get("/static/<name>?<v>")]
fn file<'r>(assets: &'r State<Assets>, name: &str, v: Option<&str>) -> Option<Served<'r>> {
    let asset = assets.files.get(name)?;
    Some(Served {
        asset,
        immutable: v == Some(asset.hash.as_str()),
    })
}

#[get("/favicon.ico")]
fn favicon(assets: &State<Assets>) -> Option<Served<'_>> {
    let asset = assets.files.get("favicon.svg")?;
    Some(Served {
        asset,
        immutable: false,
    })
}

pub fn routes() -> Vec<Route> {
    routes![file, favicon]
}
