//! What a signed-in device is, in words, from its User-Agent header (never trusted).

use crate::i18n::Lang;

/// "Chrome 120 on Windows 10", from a User-Agent header.
pub fn describe_device(user_agent: &str, lang: Lang) -> String {
    match woothee::parser::Parser::new().parse(user_agent) {
        Some(r) if r.name != "UNKNOWN" => {
            let browser = match r.version {
                "" | "UNKNOWN" => r.name.to_string(),
                v => format!("{} {}", r.name, v.split('.').next().unwrap_or(v)),
            };
            match r.os {
                "UNKNOWN" | "" => browser,
                os => lang.t_args(
                    "device-on",
                    &[("browser", browser.into()), ("os", os.to_string().into())],
                ),
            }
        }
        _ if user_agent.is_empty() => lang.t("device-unknown"),
        _ => lang.t("device-unknown-browser"),
    }
}

#[cfg(test)]
mod tests {
    use super::describe_device;
    use crate::i18n::Lang;

    #[test]
    fn devices_are_described() {
        let en = |ua: &str| describe_device(ua, Lang::En);
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
        assert_eq!(en(chrome), "Chrome 120 on Windows 10");
        assert_eq!(describe_device(chrome, Lang::Ko), "Windows 10의 Chrome 120");
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
        assert!(
            en(iphone).contains("Safari") && en(iphone).contains("iPhone"),
            "{}",
            en(iphone)
        );
        assert_eq!(en(""), "Unknown device");
        assert_eq!(describe_device("", Lang::Ko), "알 수 없는 기기");
        assert!(en("curl/8.0").contains("curl"));
        assert_eq!(en("x"), "Unknown browser");
    }
}
