//! The `settings!` macro: each setting is written once, with its default and its check beside
//! it, and everything else (the serde struct, its defaults, the checks naming their key) is
//! generated from that one declaration.

/// Declares `Settings`. Each field reads:
///
/// ```text
/// /// What the setting does.
/// #[setting(default = EXPR, check = EXPR)]    // `check` is optional
/// #[serde(...)]                                // any further attributes, passed through
/// pub name: Type,
/// ```
///
/// `default` is the value when no provider sets the key. `check` is a
/// `FnOnce(&mut Type) -> Result<(), String>` run after deserialization (see `checks`): it may
/// normalise the value in place, and its `Err` becomes ``invalid setting `name`: …``.
macro_rules! settings {
    (
        $(#[$meta:meta])*
        pub struct Settings {
            $(
                $(#[doc = $doc:literal])*
                #[setting(default = $default:expr $(, check = $check:expr)?)]
                $(#[$field_meta:meta])*
                pub $field:ident: $ty:ty,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
        #[serde(default = "Settings::declared_defaults")]
        pub struct Settings {
            $(
                $(#[doc = $doc])*
                $(#[$field_meta])*
                pub $field: $ty,
            )*
        }

        impl Settings {
            /// Every key's declared default; serde takes missing keys from here.
            fn declared_defaults() -> Settings {
                Settings {
                    $($field: $default,)*
                }
            }

            /// Runs each field's own check, in declaration order.
            fn check_each(&mut self) -> Result<(), ConfigError> {
                $($(
                    checks::run(stringify!($field), &mut self.$field, $check)?;
                )?)*
                Ok(())
            }
        }
    };
}

pub(super) use settings;
