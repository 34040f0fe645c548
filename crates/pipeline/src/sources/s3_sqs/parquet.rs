//! Parquet objects: each row becomes a compact JSON record keyed by column name
//! (dashes as underscores), integers stay integers, nulls (and `-`) left out.
//!
//! Parquet needs random access (its index is at the end), so the object is first
//! spooled to a temporary file: memory stays bounded whatever the object size.

use std::fs::File;

use intake_engine::json::write_json_str;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::{Field, Row};

/// Reads every row of a Parquet file, handing each as JSON to `each`. Stops at the
/// first error `each` returns.
pub fn for_each_row<E>(
    file: File,
    mut each: impl FnMut(String) -> Result<(), E>,
) -> Result<Result<(), E>, String> {
    let reader = SerializedFileReader::new(file).map_err(|e| format!("invalid Parquet: {e}"))?;
    let rows = reader
        .get_row_iter(None)
        .map_err(|e| format!("invalid Parquet: {e}"))?;
    for row in rows {
        let row = row.map_err(|e| format!("invalid Parquet row: {e}"))?;
        if let Err(e) = each(row_to_json(&row)) {
            return Ok(Err(e));
        }
    }
    Ok(Ok(()))
}

pub fn row_to_json(row: &Row) -> String {
    let mut out = Vec::with_capacity(256);
    write_row(row, &mut out);
    // Built from str and ASCII only.
    String::from_utf8(out).unwrap_or_default()
}

fn skipped(f: &Field) -> bool {
    match f {
        Field::Null => true,
        Field::Str(s) => s == "-",
        _ => false,
    }
}

fn write_row(row: &Row, out: &mut Vec<u8>) {
    out.push(b'{');
    let mut first = true;
    for (name, field) in row.get_column_iter() {
        if skipped(field) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        write_json_str(&name.replace('-', "_"), out);
        out.push(b':');
        write_field(field, out);
    }
    out.push(b'}');
}

fn write_float(f: f64, out: &mut Vec<u8>) {
    if f.is_finite() {
        if f.fract() == 0.0 && f.abs() < 1e15 {
            out.extend_from_slice((f as i64).to_string().as_bytes());
        } else {
            out.extend_from_slice(f.to_string().as_bytes());
        }
    } else {
        out.extend_from_slice(b"null");
    }
}

fn write_field(field: &Field, out: &mut Vec<u8>) {
    let int = |v: i128, out: &mut Vec<u8>| out.extend_from_slice(v.to_string().as_bytes());
    match field {
        Field::Null => out.extend_from_slice(b"null"),
        Field::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Field::Byte(v) => int(*v as i128, out),
        Field::Short(v) => int(*v as i128, out),
        Field::Int(v) => int(*v as i128, out),
        Field::Long(v) => int(*v as i128, out),
        Field::UByte(v) => int(*v as i128, out),
        Field::UShort(v) => int(*v as i128, out),
        Field::UInt(v) => int(*v as i128, out),
        Field::ULong(v) => int(*v as i128, out),
        Field::Float16(v) => write_float(f64::from(*v), out),
        Field::Float(v) => write_float(*v as f64, out),
        Field::Double(v) => write_float(*v, out),
        Field::Date(v) | Field::TimeMillis(v) => int(*v as i128, out),
        Field::TimeMicros(v) | Field::TimestampMillis(v) | Field::TimestampMicros(v) => {
            int(*v as i128, out)
        }
        Field::Str(s) => write_json_str(s, out),
        Field::Bytes(b) => write_json_str(&String::from_utf8_lossy(b.data()), out),
        Field::Decimal(_) => write_json_str(&field.to_string(), out),
        Field::Group(row) => write_row(row, out),
        Field::ListInternal(list) => {
            out.push(b'[');
            for (i, f) in list.elements().iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_field(f, out);
            }
            out.push(b']');
        }
        Field::MapInternal(map) => {
            out.push(b'{');
            for (i, (k, v)) in map.entries().iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let key = match k {
                    Field::Str(s) => s.clone(),
                    other => other.to_string(),
                };
                write_json_str(&key, out);
                out.push(b':');
                write_field(v, out);
            }
            out.push(b'}');
        }
    }
}

/// Writes a small flow-log Parquet file (tests and fixtures): `rows` of
/// (version, account_id, srcaddr, srcport or null, bytes, action).
#[cfg(test)]
pub(crate) type FlowRow<'a> = (i32, &'a str, &'a str, Option<i32>, i64, &'a str);

#[cfg(test)]
pub(crate) fn write_test_file(path: &std::path::Path, rows: &[FlowRow<'_>]) {
    use parquet::data_type::{ByteArray, ByteArrayType, Int32Type, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;
    use std::sync::Arc;
    let schema = Arc::new(
        parse_message_type(
            "message flows { required int32 version; required binary account_id (UTF8); required binary srcaddr (UTF8); optional int32 srcport; required int64 bytes; required binary action (UTF8); }",
        )
        .unwrap(),
    );
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(parquet::basic::Compression::SNAPPY)
            .build(),
    );
    let file = File::create(path).unwrap();
    let mut writer = SerializedFileWriter::new(file, schema, props).unwrap();
    let mut rg = writer.next_row_group().unwrap();
    let accounts: Vec<ByteArray> = rows.iter().map(|r| ByteArray::from(r.1)).collect();
    let srcaddrs: Vec<ByteArray> = rows.iter().map(|r| ByteArray::from(r.2)).collect();
    let actions: Vec<ByteArray> = rows.iter().map(|r| ByteArray::from(r.5)).collect();
    let mut col = 0;
    while let Some(mut w) = rg.next_column().unwrap() {
        match col {
            0 => {
                let v: Vec<i32> = rows.iter().map(|r| r.0).collect();
                w.typed::<Int32Type>().write_batch(&v, None, None).unwrap();
            }
            1 => {
                w.typed::<ByteArrayType>()
                    .write_batch(&accounts, None, None)
                    .unwrap();
            }
            2 => {
                w.typed::<ByteArrayType>()
                    .write_batch(&srcaddrs, None, None)
                    .unwrap();
            }
            3 => {
                let vals: Vec<i32> = rows.iter().filter_map(|r| r.3).collect();
                let defs: Vec<i16> = rows.iter().map(|r| r.3.is_some() as i16).collect();
                w.typed::<Int32Type>()
                    .write_batch(&vals, Some(&defs), None)
                    .unwrap();
            }
            4 => {
                let v: Vec<i64> = rows.iter().map(|r| r.4).collect();
                w.typed::<Int64Type>().write_batch(&v, None, None).unwrap();
            }
            _ => {
                w.typed::<ByteArrayType>()
                    .write_batch(&actions, None, None)
                    .unwrap();
            }
        }
        w.close().unwrap();
        col += 1;
    }
    rg.close().unwrap();
    writer.close().unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet");
        write_test_file(
            &path,
            &[
                (5, "012345678901", "1.2.3.4", Some(443), 1000, "ACCEPT"),
                (5, "012345678901", "5.6.7.8", None, 20, "-"),
            ],
        );
        let mut rows = Vec::new();
        for_each_row::<()>(File::open(&path).unwrap(), |r| {
            rows.push(r);
            Ok(())
        })
        .unwrap()
        .unwrap();
        assert_eq!(
            rows,
            vec![
                r#"{"version":5,"account_id":"012345678901","srcaddr":"1.2.3.4","srcport":443,"bytes":1000,"action":"ACCEPT"}"#,
                r#"{"version":5,"account_id":"012345678901","srcaddr":"5.6.7.8","bytes":20}"#,
            ]
        );
    }

    #[test]
    fn corrupt_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet");
        std::fs::write(&path, b"PAR1 this is not parquet PAR1").unwrap();
        let r = for_each_row::<()>(File::open(&path).unwrap(), |_| Ok(()));
        assert!(r.unwrap_err().contains("Parquet"));
    }
}
