//! Registration: validation per field, the password rules (PW-1..PW-4), strict forms.

use crate::common::*;
use rocket::http::{ContentType, Header, Status};

fn register_form(
    t: &TestApp,
    username: &str,
    email: &str,
    pw: &str,
    confirm: &str,
) -> (Status, String) {
    let r = t.submit(
        "/register",
        "/register",
        &[
            ("username", username),
            ("email", email),
            ("password", pw),
            ("password_confirm", confirm),
        ],
    );
    (r.status(), r.into_string().unwrap_or_default())
}

backend_tests! {
    #[test]
    fn registering_signs_the_user_in() {
        let t = start();
        let r = t.register("alice", "alice@example.com", PASSWORD);
        assert_eq!(r.status(), Status::SeeOther);
        assert_eq!(r.headers().get_one("Location"), Some("/dashboard"));
        assert!(set_cookie_named(&r, "session").is_some());
        assert_eq!(r.headers().get_one("Cache-Control"), Some("no-store"));
        let r = t.get("/dashboard");
        assert_eq!(r.status(), Status::Ok);
        let body = r.into_string().unwrap();
        assert!(body.contains("data-testid=\"dashboard\""));
        assert!(body.contains("<strong data-testid=\"username\">alice</strong>"));
        assert!(body.contains("Welcome, alice"));
        assert!(
            body.contains("Your account is ready"),
            "flash message after the redirect"
        );
    }

    #[test]
    fn every_field_gets_its_own_message_and_values_are_kept() {
        let t = start();
        let (status, body) = register_form(&t, "x", "not-an-email", "short", "other");
        assert_eq!(status, Status::UnprocessableEntity);
        assert!(body.contains("id=\"username-error\""));
        assert!(body.contains("id=\"email-error\""));
        assert!(body.contains("id=\"password-error\""));
        assert!(body.contains("aria-invalid=\"true\""));
        assert_eq!(field_value(&body, "username").as_deref(), Some("x"));
        assert_eq!(field_value(&body, "email").as_deref(), Some("not-an-email"));
        assert!(!body.contains("short\""), "the password is never echoed");
        assert!(body.contains("data-testid=\"register\""));

        let (status, body) = register_form(&t, "bobby", "bob@example.com", PASSWORD, "something else");
        assert_eq!(status, Status::UnprocessableEntity);
        assert!(body.contains("id=\"password_confirm-error\""));
        assert!(body.contains("do not match"));
        assert!(!body.contains(PASSWORD));
        // Nothing was created.
        assert_eq!(t.login("bobby", PASSWORD).status(), Status::Unauthorized);
    }

    #[test]
    fn duplicates_are_refused_whatever_their_case_or_width() {
        let t = start();
        t.signed_up("carol");
        t.logout();
        for name in ["carol", "CAROL", "Ｃａｒｏｌ"] {
            let (status, body) = register_form(&t, name, "other@example.com", PASSWORD, PASSWORD);
            assert_eq!(status, Status::UnprocessableEntity, "{name}");
            assert!(body.contains("username is taken"), "{name}");
        }
        let (status, body) = register_form(&t, "carol2", "CAROL@EXAMPLE.COM", PASSWORD, PASSWORD);
        assert_eq!(status, Status::UnprocessableEntity);
        assert!(body.contains("already exists"));
    }

    #[test]
    fn password_length_is_counted_in_code_points() {
        let t = start();
        // 128 code points (384 bytes) is the maximum and works end to end.
        let long = "무지개다리건너".repeat(18) + "가나";
        assert_eq!(long.chars().count(), 128);
        let (status, _) = register_form(&t, "hangul", "h@example.com", &long, &long);
        assert_eq!(status, Status::SeeOther);
        t.logout();
        assert_eq!(t.login("hangul", &long).status(), Status::SeeOther);
        t.logout();
        // One more is refused with a clear message, not truncated.
        let longer = format!("{long}다");
        let (status, body) = register_form(&t, "hangul2", "h2@example.com", &longer, &longer);
        assert_eq!(status, Status::UnprocessableEntity);
        assert!(body.contains("at most 128 characters"));
        // 7 code points is too short even when it is 21 bytes.
        let (status, body) = register_form(
            &t,
            "hangul3",
            "h3@example.com",
            "가나다라마바사",
            "가나다라마바사",
        );
        assert_eq!(status, Status::UnprocessableEntity);
        assert!(body.contains("at least 8 characters"));
    }

    #[test]
    fn passwords_sharing_72_bytes_are_different_passwords() {
        let t = start();
        let prefix = "tree river cloud stone ".repeat(4); // 92 bytes
        let real = format!("{prefix}alpha");
        let (status, _) = register_form(&t, "longpw", "l@example.com", &real, &real);
        assert_eq!(status, Status::SeeOther);
        t.logout();
        assert_eq!(
            t.login("longpw", &format!("{prefix}omega")).status(),
            Status::Unauthorized
        );
        assert_eq!(t.login("longpw", &real).status(), Status::SeeOther);
        t.logout();
        // A 64-character CJK password (192 bytes).
        let cjk = "春夏秋冬山川草木".repeat(8);
        let (status, _) = register_form(&t, "cjkpw", "c@example.com", &cjk, &cjk);
        assert_eq!(status, Status::SeeOther);
        t.logout();
        assert_eq!(t.login("cjkpw", &cjk).status(), Status::SeeOther);
        t.logout();
        let almost = format!("{}水", &cjk[..cjk.len() - 3]);
        assert_eq!(t.login("cjkpw", &almost).status(), Status::Unauthorized);
    }

    #[test]
    fn control_characters_and_weak_passwords_are_refused_with_a_reason() {
        let t = start();
        let (status, body) = register_form(
            &t,
            "nul",
            "n@example.com",
            "correct\0horse battery",
            "correct\0horse battery",
        );
        assert_eq!(status, Status::UnprocessableEntity);
        assert!(body.contains("control characters"));
        for weak in [
            "password123",
            "dave12345678",
            "gatehouse123",
            "dave@example.com",
        ] {
            let (status, body) = register_form(&t, "dave", "dave@example.com", weak, weak);
            assert_eq!(status, Status::UnprocessableEntity, "{weak}");
            assert!(body.contains("too easy to guess"), "{weak}");
        }
        // Spaces are fine and nothing is trimmed.
        let spaced = "  the quiet lighthouse keeper  ";
        let (status, _) = register_form(&t, "dave", "dave@example.com", spaced, spaced);
        assert_eq!(status, Status::SeeOther);
        t.logout();
        assert_eq!(
            t.login("dave", spaced.trim()).status(),
            Status::Unauthorized
        );
        assert_eq!(t.login("dave", spaced).status(), Status::SeeOther);
    }
}

#[test]
fn lookalike_and_control_character_usernames_are_refused() {
    let t = start();
    for name in [
        "pаypal",
        "a\u{202e}b",
        "nul\u{0}x",
        "tab\tx",
        "has space",
        "<b>x</b>",
    ] {
        let (status, body) = register_form(&t, name, "u@example.com", PASSWORD, PASSWORD);
        assert_eq!(status, Status::UnprocessableEntity, "{name:?}");
        assert!(body.contains("id=\"username-error\""), "{name:?}");
    }
}

#[test]
fn what_users_type_is_escaped_not_rendered() {
    let t = start();
    let (status, body) = register_form(
        &t,
        "<script>alert(1)</script>",
        "\"><img src=x onerror=alert(1)>@x.io",
        "short",
        "",
    );
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(!body.contains("<script>alert(1)"));
    assert!(!body.contains("<img src=x"));
    assert!(body.contains("&lt;script&gt;"));
}

#[test]
fn unexpected_or_repeated_fields_are_refused() {
    let t = start();
    let csrf = t.csrf("/register");
    let mut fields = vec![
        ("username", "eve"),
        ("email", "eve@example.com"),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
        ("csrf_token", csrf.as_str()),
    ];
    fields.push(("is_admin", "true"));
    assert_eq!(
        t.post_form("/register", &fields).status(),
        Status::BadRequest
    );
    fields.pop();
    fields.push(("username", "mallory"));
    let r = t.post_form("/register", &fields);
    assert_eq!(r.status(), Status::BadRequest);
    assert!(r.into_string().unwrap().contains("data-testid=\"error\""));
    fields.pop();
    fields.retain(|(k, _)| *k != "email");
    assert_eq!(
        t.post_form("/register", &fields).status(),
        Status::BadRequest
    );
}

#[test]
fn big_bodies_get_a_quick_413_and_other_content_types_415() {
    let t = start();
    let csrf = t.csrf("/register");
    let huge = "a".repeat(17 * 1024);
    let r = t.post_form(
        "/register",
        &[
            ("username", &huge),
            ("email", "x@example.com"),
            ("password", "x"),
            ("password_confirm", "x"),
            ("csrf_token", &csrf),
        ],
    );
    assert_eq!(r.status(), Status::PayloadTooLarge);
    assert!(r.into_string().unwrap().contains("Too large"));
    let r = t
        .client
        .post("/register")
        .header(ContentType::JSON)
        .header(Header::new("Origin", ORIGIN))
        .body(r#"{"username":"x"}"#)
        .dispatch();
    assert_eq!(r.status(), Status::UnsupportedMediaType);
    let r = t
        .client
        .post("/login")
        .header(ContentType::new("multipart", "form-data"))
        .body("--x--")
        .dispatch();
    assert_eq!(r.status(), Status::UnsupportedMediaType);
}
