//! What `check-config` prints: every field `Settings` serializes, in declaration order, so a
//! new setting is listed without anyone writing it down a second time.

use serde::ser::{Error as _, Impossible, Serialize, SerializeStruct, Serializer};

type Entries = Vec<(&'static str, String)>;

/// `(key, value)` for each serialized field of `value`, which must serialize as a struct.
/// Strings are shown bare, `None` as `(unset)`, anything else as compact JSON.
pub(super) fn entries<T: Serialize>(value: &T) -> Result<Entries, serde_json::Error> {
    value.serialize(Lister)
}

fn show<T: ?Sized + Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let json = serde_json::to_string(value)?;
    Ok(match serde_json::from_str::<Option<String>>(&json) {
        Ok(Some(s)) => s,
        Ok(None) => "(unset)".into(),
        Err(_) => json,
    })
}

struct Lister;

struct Fields(Entries);

impl SerializeStruct for Fields {
    type Ok = Entries;
    type Error = serde_json::Error;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Self::Error> {
        self.0.push((key, show(value)?));
        Ok(())
    }

    fn end(self) -> Result<Entries, Self::Error> {
        Ok(self.0)
    }
}

fn not_a_struct() -> serde_json::Error {
    serde_json::Error::custom("only a struct's fields can be listed")
}

/// Every `Serializer` method but `serialize_struct` refuses.
macro_rules! refuse {
    ($($method:ident($($arg:ty),*);)*) => {
        $(fn $method(self, $(_: $arg),*) -> Result<Entries, serde_json::Error> {
            Err(not_a_struct())
        })*
    };
}

impl Serializer for Lister {
    type Ok = Entries;
    type Error = serde_json::Error;
    type SerializeSeq = Impossible<Entries, serde_json::Error>;
    type SerializeTuple = Impossible<Entries, serde_json::Error>;
    type SerializeTupleStruct = Impossible<Entries, serde_json::Error>;
    type SerializeTupleVariant = Impossible<Entries, serde_json::Error>;
    type SerializeMap = Impossible<Entries, serde_json::Error>;
    type SerializeStruct = Fields;
    type SerializeStructVariant = Impossible<Entries, serde_json::Error>;

    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Fields, Self::Error> {
        Ok(Fields(Vec::with_capacity(len)))
    }

    refuse! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_str(&str);
        serialize_bytes(&[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(&'static str);
        serialize_unit_variant(&'static str, u32, &'static str);
    }

    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<Entries, Self::Error> {
        Err(not_a_struct())
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<Entries, Self::Error> {
        Err(not_a_struct())
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Entries, Self::Error> {
        Err(not_a_struct())
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Self::Error> {
        Err(not_a_struct())
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Self::Error> {
        Err(not_a_struct())
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Self::Error> {
        Err(not_a_struct())
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Self::Error> {
        Err(not_a_struct())
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Self::Error> {
        Err(not_a_struct())
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Self::Error> {
        Err(not_a_struct())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize)]
    struct Sample {
        name: &'static str,
        count: u32,
        missing: Option<String>,
        list: Vec<&'static str>,
        nested: Vec<Inner>,
    }

    #[derive(serde::Serialize)]
    struct Inner {
        z: u8,
        a: u8,
    }

    #[test]
    fn fields_come_in_declaration_order_and_read_plainly() {
        let sample = Sample {
            name: "x y",
            count: 3,
            missing: None,
            list: vec!["10.0.0.0/8"],
            nested: vec![Inner { z: 1, a: 2 }],
        };
        assert_eq!(
            entries(&sample).unwrap(),
            vec![
                ("name", "x y".to_string()),
                ("count", "3".into()),
                ("missing", "(unset)".into()),
                ("list", r#"["10.0.0.0/8"]"#.into()),
                ("nested", r#"[{"z":1,"a":2}]"#.into()),
            ]
        );
        assert!(entries(&5).is_err());
    }
}
