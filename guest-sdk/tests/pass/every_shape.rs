//! Every accepted shape of app compiles without a warning and behaves natively.
#![deny(warnings, missing_docs, unsafe_code)]

use std::collections::BTreeMap;

use wf_guest::prelude::*;

/// A user type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct Point {
    /// Across.
    pub x: f64,
    /// Up.
    pub y: f64,
}

/// No parameters, no return type.
#[app]
pub fn nothing() {}

/// Many parameters of many types, a raw identifier and a `mut` binding.
#[app(cache = false)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn many(
    a: u8,
    b: i16,
    c: u32,
    d: i64,
    e: f32,
    f: bool,
    g: String,
    mut h: Vec<Point>,
    r#type: Option<(u8, char)>,
    j: BTreeMap<String, u64>,
) -> (u64, String) {
    h.push(Point { x: 0.0, y: 0.0 });
    let n = u64::from(a) + b as u64 + u64::from(c) + d as u64 + e as u64 + u64::from(f);
    (n + h.len() as u64 + j.len() as u64, format!("{g}{type:?}"))
}

/// Fallible with the prelude's `Result`.
#[app]
fn checked(x: u32) -> Result<u32> {
    x.checked_mul(2).ok_or_else(|| Error::msg("overflow"))
}

/// Fallible with a written-out error type.
#[app]
fn parsed(text: String) -> std::result::Result<i64, std::num::ParseIntError> {
    text.parse()
}

/// A fan-in over a user type.
#[app]
fn far(points: Vec<Point>) -> f64 {
    points.iter().map(|p| p.x.hypot(p.y)).fold(0.0, f64::max)
}

#[app]
fn point(x: f64, y: f64) -> Point {
    Point { x, y }
}

/// Submits in every accepted form.
#[workflow]
fn flow() -> Result<()> {
    nothing.submit().get()?;
    let p = point.submit(3.0, 4.0);
    let q = point.submit(&p.get()?.x, 0.5);
    let by_ref = far.submit(&vec![p.clone(), q.clone()]);
    let by_slice = far.submit(&[p.clone(), q][..]);
    let by_value = far.submit(vec![p]);
    assert_eq!(by_ref.get()?, 5.0);
    assert_eq!(by_slice.get()?, 5.0);
    assert_eq!(by_value.get()?, 5.0);
    let (n, text) = many
        .submit(1u8, 2i16, 3u32, 4i64, 5.5f32, true, "g", Vec::<Point>::new(), Some((1u8, 'z')), BTreeMap::new())
        .get()?;
    assert_eq!((n, text.as_str()), (17, "gSome((1, 'z'))"));
    assert_eq!(checked.submit(checked.submit(5)).get()?, 20);
    assert!(checked.submit(u32::MAX).get().is_err());
    assert_eq!(parsed.submit("-12").get()?, -12);
    Ok(())
}

fn main() {
    flow().expect("the workflow runs natively");
    let d = many.descriptor();
    assert!(!d.cache);
    assert_eq!(d.params[8].name, "type");
    assert_eq!(d.params[8].ty.rust, "Option<(u8, char)>");
    assert_eq!(d.params[9].ty.rust, "BTreeMap<String, u64>");
    assert_eq!(d.output.rust, "(u64, String)");
    assert!(checked.descriptor().fallible);
    assert_eq!(checked.descriptor().output.rust, "u32");
    assert_eq!(nothing.descriptor().output.rust, "()");
    assert_eq!(checked.call(2).ok(), Some(4));
}
