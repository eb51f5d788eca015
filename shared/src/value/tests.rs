//! Both directions against each other: every value written decodes back to
//! itself, and what MySQL would quietly cast is refused.

use mysql::consts::{ColumnFlags, ColumnType};
use mysql::Value;
use serde_json::value::RawValue;

use super::encode::push_digits;
use super::*;
use crate::wire::Column;

fn codec(encoding: Encoding, kind: TemporalKind) -> ValueCodec {
    ValueCodec { encoding, kind }
}

fn enc(v: Value, c: ValueCodec) -> String {
    let mut out = Vec::new();
    encode_value(&mut out, &v, c).unwrap();
    String::from_utf8(out).unwrap()
}

fn col(name: &str, ty: &str, encoding: Encoding) -> Column {
    Column {
        name: name.into(),
        sql_type: ty.into(),
        encoding,
    }
}

fn round_trip(v: Value, c: ValueCodec, column: &Column) -> Value {
    let text = enc(v, c);
    let raw: Box<RawValue> = serde_json::from_str(&text).unwrap();
    decode_value(&raw, column).unwrap()
}

const NUM: ValueCodec = ValueCodec {
    encoding: Encoding::Number,
    kind: TemporalKind::None,
};
const STR: ValueCodec = ValueCodec {
    encoding: Encoding::String,
    kind: TemporalKind::None,
};
const BIN: ValueCodec = ValueCodec {
    encoding: Encoding::Base64,
    kind: TemporalKind::None,
};

#[test]
fn integers_are_exact_at_the_extremes() {
    let c = col("n", "bigint(20) unsigned", Encoding::Number);
    assert_eq!(enc(Value::UInt(u64::MAX), NUM), "18446744073709551615");
    assert_eq!(
        round_trip(Value::UInt(u64::MAX), NUM, &c),
        Value::UInt(u64::MAX)
    );
    assert_eq!(
        round_trip(Value::Int(i64::MIN), NUM, &c),
        Value::Int(i64::MIN)
    );
    assert_eq!(round_trip(Value::Int(0), NUM, &c), Value::Int(0));
}

#[test]
fn floats_round_trip_bit_exactly() {
    let f = col("f", "float", Encoding::Number);
    let d = col("d", "double", Encoding::Number);
    for x in [
        1.234_567_9_f32,
        f32::MIN_POSITIVE,
        f32::MAX,
        -0.1,
        3.0,
        1e-30,
    ] {
        assert_eq!(round_trip(Value::Float(x), NUM, &f), Value::Float(x));
    }
    for x in [0.1_f64, f64::MAX, f64::MIN_POSITIVE, -2.5e-300, 1e21] {
        assert_eq!(round_trip(Value::Double(x), NUM, &d), Value::Double(x));
    }
    let mut out = Vec::new();
    assert!(encode_value(&mut out, &Value::Double(f64::NAN), NUM).is_err());
}

#[test]
fn text_is_escaped_and_unescaped() {
    let c = col("s", "varchar(10)", Encoding::String);
    let s = "quote\" back\\ nl\n nul\0 bell\x07 emoji \u{1F600} é";
    let v = Value::Bytes(s.as_bytes().to_vec());
    let text = enc(v.clone(), STR);
    assert!(!text.contains('\n') && text.contains("\\u0000") && text.contains("\\u0007"));
    assert_eq!(round_trip(v, STR, &c), Value::Bytes(s.as_bytes().to_vec()));
    let mut out = Vec::new();
    assert!(encode_value(&mut out, &Value::Bytes(vec![0xff]), STR).is_err());
}

#[test]
fn binary_is_base64_and_lossless() {
    let c = col("b", "blob", Encoding::Base64);
    let all: Vec<u8> = (0..=255).collect();
    assert_eq!(
        round_trip(Value::Bytes(all.clone()), BIN, &c),
        Value::Bytes(all)
    );
    assert_eq!(enc(Value::Bytes(b"\0\x01".to_vec()), BIN), "\"AAE=\"");
}

#[test]
fn temporal_values_print_like_mysql() {
    let ts6 = codec(Encoding::String, TemporalKind::DateTime { fsp: 6 });
    let ts0 = codec(Encoding::String, TemporalKind::DateTime { fsp: 0 });
    let date = codec(Encoding::String, TemporalKind::Date);
    let time3 = codec(Encoding::String, TemporalKind::Time { fsp: 3 });
    let time0 = codec(Encoding::String, TemporalKind::Time { fsp: 0 });
    assert_eq!(
        enc(Value::Date(2038, 1, 19, 3, 14, 7, 999_999), ts6),
        "\"2038-01-19 03:14:07.999999\""
    );
    assert_eq!(
        enc(Value::Date(0, 0, 0, 0, 0, 0, 0), ts0),
        "\"0000-00-00 00:00:00\""
    );
    assert_eq!(
        enc(Value::Date(2020, 2, 29, 0, 0, 0, 0), date),
        "\"2020-02-29\""
    );
    assert_eq!(
        enc(Value::Time(true, 34, 22, 59, 59, 0), time0),
        "\"-838:59:59\""
    );
    assert_eq!(
        enc(Value::Time(false, 0, 1, 2, 3, 450_000), time3),
        "\"01:02:03.450\""
    );
}

#[test]
fn digits_are_written_like_format() {
    for n in [0u64, 7, 10, 99, 12345, u64::MAX] {
        for width in [1, 2, 4] {
            let mut out = Vec::new();
            push_digits(&mut out, n, width);
            assert_eq!(String::from_utf8(out).unwrap(), format!("{n:0width$}"));
        }
    }
    assert_eq!(enc(Value::Int(i64::MIN), NUM), i64::MIN.to_string());
    assert_eq!(enc(Value::Int(-5), NUM), "-5");
}

#[test]
fn codec_follows_result_metadata() {
    let none = ColumnFlags::empty();
    let c = ValueCodec::for_column(ColumnType::MYSQL_TYPE_BLOB, none, 63, 0);
    assert_eq!(c.encoding, Encoding::Base64);
    let c = ValueCodec::for_column(ColumnType::MYSQL_TYPE_BLOB, none, 45, 0);
    assert_eq!(c.encoding, Encoding::String);
    let c = ValueCodec::for_column(ColumnType::MYSQL_TYPE_TIMESTAMP, none, 63, 3);
    assert_eq!(c.kind, TemporalKind::DateTime { fsp: 3 });
    let c = ValueCodec::for_column(ColumnType::MYSQL_TYPE_NEWDECIMAL, none, 63, 30);
    assert_eq!(c.encoding, Encoding::String);
    let c = ValueCodec::for_column(ColumnType::MYSQL_TYPE_BIT, none, 63, 0);
    assert_eq!(c.encoding, Encoding::Base64);
}

#[test]
fn rows_decode_straight_into_values() {
    let cols = [
        col("id", "bigint(20) unsigned", Encoding::Number),
        col("s", "varchar(9)", Encoding::String),
        col("b", "blob", Encoding::Base64),
        col("f", "float", Encoding::Number),
    ];
    let mut out = vec![Value::Int(7)];
    decode_row_into(
        "[18446744073709551615, \"q\\\"\\\\\\u00e9\\ud83d\\ude00\\n\" ,\"AAE=\",null]",
        &cols,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        out,
        [
            Value::Int(7),
            Value::UInt(u64::MAX),
            Value::Bytes("q\"\\é😀\n".as_bytes().to_vec()),
            Value::Bytes(vec![0, 1]),
            Value::NULL
        ]
    );
    for bad in [
        "[1,\"a\",\"AA==\"]",
        "[1,\"a\",\"AA==\",1,2]",
        "[1,\"a\",\"AA==\",1] x",
        "{\"a\":1}",
        "[1,\"a\",\"AA==\",tru]",
        "[1,\"a\\ud800\",\"AA==\",1]",
        "[1,\"unterminated,\"AA==\",1]",
        "[1,\"ctl\u{1}\",\"AA==\",1]",
        "[\"1\",\"a\",\"AA==\",1]",
    ] {
        let mut out = vec![Value::Int(7)];
        assert!(decode_row_into(bad, &cols, &mut out).is_err(), "{bad}");
        assert_eq!(out, [Value::Int(7)], "left as it was");
    }
}

#[test]
fn rows_written_by_the_encoder_decode_back() {
    // Every byte value in text and blob survives encode -> decode.
    let text: String = (0u32..0x800).filter_map(char::from_u32).collect();
    let blob: Vec<u8> = (0..=255).collect();
    let cols = [
        col("t", "text", Encoding::String),
        col("b", "blob", Encoding::Base64),
    ];
    let mut line = b"[".to_vec();
    encode_value(&mut line, &Value::Bytes(text.clone().into_bytes()), STR).unwrap();
    line.push(b',');
    encode_value(&mut line, &Value::Bytes(blob.clone()), BIN).unwrap();
    line.push(b']');
    let mut out = Vec::new();
    decode_row_into(std::str::from_utf8(&line).unwrap(), &cols, &mut out).unwrap();
    assert_eq!(out, [Value::Bytes(text.into_bytes()), Value::Bytes(blob)]);
}

#[test]
fn decoding_refuses_what_mysql_would_quietly_cast() {
    let int = col("n", "int(11)", Encoding::Number);
    let dbl = col("d", "double", Encoding::Number);
    let txt = col("s", "varchar(5)", Encoding::String);
    let bin = col("b", "blob", Encoding::Base64);
    let dec = |text: &str, c: &Column| {
        let raw: Box<RawValue> = serde_json::from_str(text).unwrap();
        decode_value(&raw, c)
    };
    assert!(dec("\"x\"", &int)
        .unwrap_err()
        .contains("expected a number"));
    assert!(dec("99999999999999999999999", &int)
        .unwrap_err()
        .contains("does not fit"));
    assert!(dec("1.5", &int).is_err());
    assert!(dec("1e400", &dbl).is_err());
    assert!(dec("5", &txt).unwrap_err().contains("expected a string"));
    assert!(dec("true", &txt).is_err());
    assert!(dec("\"!!\"", &bin).unwrap_err().contains("base64"));
    assert_eq!(dec("null", &int).unwrap(), Value::NULL);
    assert_eq!(dec("3", &dbl).unwrap(), Value::Double(3.0));
}
