//! JSON ⇄ postcard for the command line, driven by the schemas a module describes its apps with.

use serde_json::Value;
use wf_abi::{AppDescriptor, TypeDescriptor};

/// A JSON argument or result that does not fit the app's signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The number of arguments differs from the number of parameters.
    #[error("app `{app}` takes {expected} argument(s) ({signature}), but {given} were given")]
    ArgumentCount {
        /// The app.
        app: String,
        /// Its parameter count.
        expected: usize,
        /// The number given.
        given: usize,
        /// The app's signature, for the message.
        signature: String,
    },
    /// An argument is not valid JSON.
    #[error("argument {position} (`{param}: {ty}`) is not valid JSON: {detail}")]
    NotJson {
        /// 1-based position.
        position: usize,
        /// The parameter's name.
        param: String,
        /// The parameter's type.
        ty: String,
        /// The JSON parser's complaint.
        detail: String,
    },
    /// An argument does not fit its parameter's type.
    #[error("argument {position} (`{param}`) does not fit the parameter's type `{ty}`: got {got}")]
    TypeMismatch {
        /// 1-based position.
        position: usize,
        /// The parameter's name.
        param: String,
        /// The parameter's type.
        ty: String,
        /// The JSON that was given (shortened).
        got: String,
    },
    /// A result's bytes do not decode with the app's output schema.
    #[error("the result of `{app}` does not decode as `{ty}`")]
    BadResult {
        /// The app.
        app: String,
        /// The declared output type.
        ty: String,
    },
}

/// The app's signature as Rust would write it: `name(a: i64, b: Vec<String>) -> f64`.
pub fn signature(app: &AppDescriptor) -> String {
    let params: Vec<String> = app
        .params
        .iter()
        .map(|p| format!("{}: {}", p.name, p.ty.rust))
        .collect();
    let output = if app.fallible {
        format!("Result<{}, _>", app.output.rust)
    } else {
        app.output.rust.clone()
    };
    format!("{}({}) -> {}", app.name, params.join(", "), output)
}

/// Parses each command-line argument as JSON and encodes it as the postcard bytes of its
/// parameter's type. A bare word that is not JSON is taken as a string when the parameter is a
/// string, so `wfrun call m.wasm greet world` works without quoting quotes.
pub fn encode_args(app: &AppDescriptor, args: &[String]) -> Result<Vec<Vec<u8>>, CodecError> {
    if args.len() != app.params.len() {
        return Err(CodecError::ArgumentCount {
            app: app.name.clone(),
            expected: app.params.len(),
            given: args.len(),
            signature: signature(app),
        });
    }
    app.params
        .iter()
        .zip(args)
        .enumerate()
        .map(|(i, (param, text))| {
            let value = match serde_json::from_str::<Value>(text) {
                Ok(value) => value,
                Err(_) if is_string_type(&param.ty) => Value::String(text.clone()),
                Err(e) => {
                    return Err(CodecError::NotJson {
                        position: i + 1,
                        param: param.name.clone(),
                        ty: param.ty.rust.clone(),
                        detail: e.to_string(),
                    });
                }
            };
            encode_value(&param.ty, &value).ok_or_else(|| CodecError::TypeMismatch {
                position: i + 1,
                param: param.name.clone(),
                ty: param.ty.rust.clone(),
                got: shorten(&value.to_string()),
            })
        })
        .collect()
}

/// Encodes one JSON value as the postcard bytes of `ty`, or `None` when it does not fit.
pub fn encode_value(ty: &TypeDescriptor, value: &Value) -> Option<Vec<u8>> {
    postcard_dyn::to_stdvec_dyn(&ty.schema, value).ok()
}

/// Decodes a result's postcard bytes as JSON.
pub fn decode_output(app: &AppDescriptor, bytes: &[u8]) -> Result<Value, CodecError> {
    postcard_dyn::from_slice_dyn(&app.output.schema, bytes).map_err(|_| CodecError::BadResult {
        app: app.name.clone(),
        ty: app.output.rust.clone(),
    })
}

/// Decodes a value's postcard bytes as JSON, or `None` when they do not fit `ty`.
pub fn decode_value(ty: &TypeDescriptor, bytes: &[u8]) -> Option<Value> {
    postcard_dyn::from_slice_dyn(&ty.schema, bytes).ok()
}

fn is_string_type(ty: &TypeDescriptor) -> bool {
    matches!(
        ty.schema.ty,
        postcard_schema::schema::owned::OwnedDataModelType::String
            | postcard_schema::schema::owned::OwnedDataModelType::Char
    )
}

fn shorten(text: &str) -> String {
    const MAX: usize = 80;
    if text.chars().count() <= MAX {
        return text.to_owned();
    }
    let cut: String = text.chars().take(MAX).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use postcard_schema::Schema;
    use postcard_schema::schema::owned::OwnedNamedType;
    use wf_abi::ParamDescriptor;

    fn ty<T: Schema>(rust: &str) -> TypeDescriptor {
        TypeDescriptor {
            rust: rust.into(),
            schema: OwnedNamedType::from(T::SCHEMA),
        }
    }

    fn app() -> AppDescriptor {
        AppDescriptor {
            name: "scale".into(),
            params: vec![
                ParamDescriptor {
                    name: "xs".into(),
                    ty: ty::<Vec<i64>>("Vec<i64>"),
                },
                ParamDescriptor {
                    name: "label".into(),
                    ty: ty::<String>("String"),
                },
            ],
            output: ty::<(u32, f64)>("(u32, f64)"),
            fallible: true,
            cache: true,
        }
    }

    #[test]
    fn encodes_like_postcard_does() {
        let encoded = encode_args(&app(), &["[1,-2,3]".into(), "\"hi\"".into()]).expect("fits");
        assert_eq!(
            encoded[0],
            postcard::to_allocvec(&vec![1i64, -2, 3]).expect("encode")
        );
        assert_eq!(encoded[1], postcard::to_allocvec("hi").expect("encode"));
        // A bare word for a string parameter.
        let bare = encode_args(&app(), &["[]".into(), "hi".into()]).expect("fits");
        assert_eq!(bare[1], encoded[1]);
    }

    #[test]
    fn decodes_results() {
        let bytes = postcard::to_allocvec(&(7u32, 0.5f64)).expect("encode");
        assert_eq!(
            decode_output(&app(), &bytes).expect("decodes"),
            serde_json::json!([7, 0.5])
        );
    }

    #[test]
    fn errors_name_the_parameter_and_type() {
        let err = encode_args(&app(), &["[1]".into()]).expect_err("too few");
        assert_eq!(
            err.to_string(),
            "app `scale` takes 2 argument(s) (scale(xs: Vec<i64>, label: String) -> Result<(u32, f64), _>), but 1 were given"
        );
        let err = encode_args(&app(), &["[1.5]".into(), "x".into()]).expect_err("not ints");
        assert_eq!(
            err.to_string(),
            "argument 1 (`xs`) does not fit the parameter's type `Vec<i64>`: got [1.5]"
        );
        let err = encode_args(&app(), &["[1,".into(), "x".into()]).expect_err("not JSON");
        assert!(
            err.to_string()
                .starts_with("argument 1 (`xs: Vec<i64>`) is not valid JSON"),
            "{err}"
        );
    }
}
