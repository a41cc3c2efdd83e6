//! `#[app]`: the function's body moves into a hidden function; its name becomes a unit-struct
//! value with `call`, `submit` and `descriptor`, implementing `wf_guest::__private::App`; on
//! wasm32 two exports forward to the generic bodies in `wf_guest`.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{
    Attribute, GenericArgument, ItemFn, LitBool, PathArguments, ReturnType, Type, parse_quote,
};

use crate::signature::{self, Errors, Param};
use crate::type_name::tidy;

/// What the attribute's arguments say.
struct Options {
    cache: bool,
}

fn parse_options(attr: TokenStream) -> syn::Result<Options> {
    let mut options = Options { cache: true };
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("cache") {
            let value: LitBool = meta.value()?.parse()?;
            options.cache = value.value;
            Ok(())
        } else {
            Err(meta.error("unknown `#[app]` option: the only one is `cache = false`"))
        }
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(options)
}

/// The result type as the host sees it.
struct Output {
    /// The type of a successful result: `T`, or `T` of `Result<T, E>`.
    ok: Type,
    /// The error type when it is written out (`Result<T, E>`); `None` for `Result<T>` aliases.
    error: Option<Type>,
    /// Whether the function returns a `Result`.
    fallible: bool,
    /// Where the return type is written (the function's name when there is none).
    ret_span: Span,
}

/// A return type whose last path segment is `Result` with type arguments makes a fallible app.
fn output(ret: &ReturnType) -> Output {
    let ty: Type = match ret {
        ReturnType::Default => parse_quote!(()),
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    let ret_span = ty.span();
    if let Type::Path(path) = &ty
        && path.qself.is_none()
        && let Some(last) = path.path.segments.last()
        && last.ident == "Result"
        && let PathArguments::AngleBracketed(args) = &last.arguments
    {
        let mut types = args.args.iter().filter_map(|arg| match arg {
            GenericArgument::Type(ty) => Some(ty.clone()),
            _ => None,
        });
        if let Some(ok) = types.next() {
            return Output {
                ok,
                error: types.next(),
                fallible: true,
                ret_span,
            };
        }
    }
    Output {
        ok: ty,
        error: None,
        fallible: false,
        ret_span,
    }
}

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let options = parse_options(attr);
    let function: ItemFn = syn::parse2(item)?;
    let mut errors = Errors::default();
    if let Err(error) = &options {
        errors.push(error.clone());
    }
    signature::check_plain(&function.sig, "an app", &mut errors);
    let params = signature::params(&function.sig, &mut errors);
    errors.finish()?;
    let options = options?;
    Ok(generate(function, &params, &options))
}

fn generate(function: ItemFn, params: &[Param], options: &Options) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = function;
    let name = sig.ident.clone();
    let name_text = name.unraw().to_string();
    let app_type = format_ident!("__WfApp_{}", name_text, span = name.span());
    let body_fn = format_ident!("__wf_app_body_{}", name_text, span = Span::call_site());
    let (docs, cfgs, others) = split_attrs(attrs);

    let output = output(&sig.output);
    let ret = sig.output.clone();
    sig.ident = body_fn.clone();

    let idents: Vec<_> = params.iter().map(|p| &p.ident).collect();
    let types: Vec<_> = params.iter().map(|p| &p.ty).collect();
    let indices: Vec<_> = (0..params.len()).collect();
    let arity = params.len();
    let ok = &output.ok;
    let ok_rust = tidy(ok.to_token_stream());
    let fallible = output.fallible;
    let cache = options.cache;

    // Each type that must cross the wire is checked exactly once, where an associated type
    // (bounded by `Wire`) is defined with the user's tokens: a type that cannot is reported where
    // it is written. Every other bounded use is generic over `Self`, so it is not checked again.
    let param_impls = params.iter().enumerate().map(|(index, param)| {
        let param_name = param.ident.unraw().to_string();
        let param_rust = tidy(param.ty.to_token_stream());
        let ty = &param.ty;
        quote! {
            #(#cfgs)*
            impl ::wf_guest::__private::ParamAt<#index> for #app_type {
                const NAME: &'static str = #param_name;
                const RUST: &'static str = #param_rust;
                type Ty = #ty;
            }
        }
    });

    let answer = if fallible {
        // Spanned on the error type, where a missing `Display` is then reported.
        let span = output.error.as_ref().map_or(output.ret_span, Spanned::span);
        let result = quote!(#body_fn(#(#idents),*));
        quote_spanned!(span=> ::wf_guest::__private::answer_result::<Self, _>(#result))
    } else {
        quote!(::wf_guest::__private::answer_value::<Self>(&#body_fn(#(#idents),*)))
    };

    let app_doc = format!(
        "The app `{name_text}`: `{name_text}.call(..)` runs it here, `{name_text}.submit(..)` \
         makes it a task."
    );
    let export_app = format!("wf_app_{name_text}");
    let export_describe = format!("wf_describe_{name_text}");

    quote! {
        #(#cfgs)*
        #(#docs)*
        #[allow(non_upper_case_globals)]
        #vis const #name: #app_type = #app_type;

        #(#cfgs)*
        #[doc = #app_doc]
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug)]
        #vis struct #app_type;

        #(#cfgs)*
        #(#others)*
        #[doc(hidden)]
        #[allow(clippy::too_many_arguments)]
        #sig #block

        #(#cfgs)*
        impl #app_type {
            /// Runs the app directly, here and now: what a native unit test calls.
            #[allow(clippy::too_many_arguments, dead_code)]
            pub fn call(&self, #(#idents: #types),*) #ret {
                #body_fn(#(#idents),*)
            }

            /// Submits a task of this app and returns its future at once. Each argument is a
            /// value, a `Future` of the parameter's type (a dependency) or, for a `Vec<T>`
            /// parameter, a `Vec<Future<T>>` (fan-in).
            #[allow(clippy::too_many_arguments, dead_code)]
            pub fn submit(
                &self,
                #(#idents: impl ::wf_guest::IntoArg<#types>),*
            ) -> ::wf_guest::Future<<Self as ::wf_guest::__private::App>::Output> {
                ::wf_guest::__private::submit::<Self>(::std::vec![
                    #(::wf_guest::IntoArg::<#types>::into_arg(#idents)),*
                ])
            }

            /// What the module says about this app: its parameters, result type and schemas.
            #[allow(dead_code)]
            pub fn descriptor(&self) -> ::wf_guest::abi::AppDescriptor {
                ::wf_guest::__private::descriptor::<Self>()
            }
        }

        #(#param_impls)*

        #(#cfgs)*
        impl ::wf_guest::__private::App for #app_type {
            const NAME: &'static str = #name_text;
            const ARITY: usize = #arity;
            const OUTPUT_RUST: &'static str = #ok_rust;
            const FALLIBLE: bool = #fallible;
            const CACHE: bool = #cache;
            type Output = #ok;

            fn run(
                __wf_args: &[&[u8]],
            ) -> ::std::result::Result<::wf_guest::__private::Answer, ::wf_guest::__private::Answer>
            {
                #(
                    let #idents = ::wf_guest::__private::decode_param::<Self, #indices>(__wf_args)?;
                )*
                ::std::result::Result::Ok(#answer)
            }

            fn params() -> ::std::vec::Vec<::wf_guest::abi::ParamDescriptor> {
                ::std::vec![#(::wf_guest::__private::param::<Self, #indices>()),*]
            }
        }

        #(#cfgs)*
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            // An export name is an unsafe attribute: it claims a symbol for the whole module.
            // The names are unique per app, and `wf_guest` claims none of this form.
            #[allow(unsafe_code)]
            #[unsafe(export_name = #export_app)]
            extern "C" fn __wf_export_app(ptr: *const u8, len: i32) -> i32 {
                // SAFETY: the host calls this export as the ABI says: `len` bytes at `ptr`, in a
                // buffer it got from `wf_alloc`.
                unsafe { ::wf_guest::__private::export_app::<#app_type>(ptr, len) }
            }

            #[allow(unsafe_code)]
            #[unsafe(export_name = #export_describe)]
            extern "C" fn __wf_export_describe() {
                ::wf_guest::__private::export_describe::<#app_type>()
            }
        };
    }
}

/// Docs describe the app value; `cfg`s apply to everything generated; the rest (lint levels,
/// `inline`, ...) stays on the function that keeps the body.
fn split_attrs(attrs: Vec<Attribute>) -> (Vec<Attribute>, Vec<Attribute>, Vec<Attribute>) {
    let mut docs = Vec::new();
    let mut cfgs = Vec::new();
    let mut others = Vec::new();
    for attr in attrs {
        if attr.path().is_ident("doc") {
            docs.push(attr);
        } else if attr.path().is_ident("cfg") {
            cfgs.push(attr);
        } else {
            others.push(attr);
        }
    }
    (docs, cfgs, others)
}
