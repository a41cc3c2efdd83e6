//! The checks `#[app]` and `#[workflow]` share: what kind of function they accept. Every
//! violation becomes an error spanned on the offending tokens; all of them are reported at once.

use syn::spanned::Spanned;
use syn::{FnArg, Ident, Pat, ReturnType, Signature, Type};

/// One parameter of an accepted function.
pub(crate) struct Param {
    /// Its name (possibly a raw identifier such as `r#type`).
    pub(crate) ident: Ident,
    /// Its type, as written.
    pub(crate) ty: Type,
}

/// Collects errors so one compilation reports every misuse.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Checks what `what` ("an app", "a workflow") cannot be: generic, async, const, unsafe, extern,
/// variadic, or returning `impl Trait`.
pub(crate) fn check_plain(sig: &Signature, what: &str, errors: &mut Errors) {
    if let Some(token) = &sig.asyncness {
        errors.push(syn::Error::new(
            token.span(),
            format!("{what} cannot be `async`: the host runs it to completion; write a plain `fn`"),
        ));
    }
    if let Some(token) = &sig.constness {
        errors.push(syn::Error::new(
            token.span(),
            format!("{what} cannot be `const`"),
        ));
    }
    if let Some(token) = &sig.unsafety {
        errors.push(syn::Error::new(
            token.span(),
            format!("{what} cannot be `unsafe`"),
        ));
    }
    if let Some(abi) = &sig.abi {
        errors.push(syn::Error::new(
            abi.span(),
            format!("{what} cannot declare an ABI: the macro writes the export"),
        ));
    }
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new(
            sig.generics.params.span(),
            format!(
                "{what} cannot be generic: the host calls one concrete function, so spell out the types"
            ),
        ));
    }
    if let Some(clause) = &sig.generics.where_clause {
        errors.push(syn::Error::new(
            clause.span(),
            format!("{what} cannot have a `where` clause"),
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new(
            variadic.span(),
            format!("{what} cannot be variadic"),
        ));
    }
    if let ReturnType::Type(_, ty) = &sig.output {
        check_type(ty, "return", what, errors);
    }
}

/// The parameters of an app: each a plain identifier with a concrete, owned type.
pub(crate) fn params(sig: &Signature, errors: &mut Errors) -> Vec<Param> {
    let mut params = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(receiver) => errors.push(syn::Error::new(
                receiver.span(),
                "an app cannot take `self`: write a free function (apps are not methods)",
            )),
            FnArg::Typed(typed) => {
                check_type(&typed.ty, "parameter", "an app", errors);
                match &*typed.pat {
                    Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                        params.push(Param {
                            ident: pat.ident.clone(),
                            ty: (*typed.ty).clone(),
                        });
                    }
                    other => errors.push(syn::Error::new(
                        other.span(),
                        "an app's parameters must be plain identifiers (`name: Type`): \
                         the name is part of the app's description; destructure in the body",
                    )),
                }
            }
        }
    }
    params
}

/// Types that can never cross the wire, caught early with a clearer message than the trait
/// bound error would give.
fn check_type(ty: &Type, role: &str, what: &str, errors: &mut Errors) {
    let problem = match ty {
        Type::Reference(_) => Some(format!(
            "{what}'s {role} type cannot be a reference: values cross the wire by value, \
             so use an owned type (`String`, `Vec<T>`, ...)"
        )),
        Type::ImplTrait(_) => Some(format!(
            "{what}'s {role} type cannot be `impl Trait`: name a concrete type"
        )),
        Type::Infer(_) => Some(format!("{what}'s {role} type must be written out")),
        Type::Ptr(_) => Some(format!("{what}'s {role} type cannot be a raw pointer")),
        Type::BareFn(_) | Type::TraitObject(_) => Some(format!(
            "{what}'s {role} type must be data (serde), not a function or trait object"
        )),
        _ => None,
    };
    if let Some(message) = problem {
        errors.push(syn::Error::new(ty.span(), message));
    }
}
