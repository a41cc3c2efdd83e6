//! `#[workflow]`: the function stays as written; on wasm32 an export runs it.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{ItemFn, ReturnType};

use crate::signature::{self, Errors};

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let function: ItemFn = syn::parse2(item)?;
    let mut errors = Errors::default();
    if !attr.is_empty() {
        errors.push(syn::Error::new(
            attr.span(),
            "`#[workflow]` takes no options",
        ));
    }
    signature::check_plain(&function.sig, "a workflow", &mut errors);
    if !function.sig.inputs.is_empty() {
        errors.push(syn::Error::new(
            function.sig.inputs.span(),
            "a workflow takes no parameters: it is the module's entry point; \
             write its inputs as constants or pass them to the apps it submits",
        ));
    }
    errors.finish()?;

    let name = &function.sig.ident;
    let export = format!("wf_workflow_{}", name.unraw());
    let cfgs: Vec<_> = function
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("cfg"))
        .collect();
    let assertion = match &function.sig.output {
        ReturnType::Default => quote!(),
        ReturnType::Type(_, ty) => {
            quote_spanned!(ty.span()=> const _: () = ::wf_guest::__private::assert_outcome::<#ty>();)
        }
    };

    Ok(quote! {
        #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
        #function

        #(#cfgs)*
        #assertion

        #(#cfgs)*
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            // An export name is an unsafe attribute: it claims a symbol for the whole module.
            // The name is unique per workflow, and `wf_guest` claims none of this form.
            #[allow(unsafe_code)]
            #[unsafe(export_name = #export)]
            extern "C" fn __wf_export_workflow() -> i32 {
                ::wf_guest::__private::export_workflow(#name)
            }
        };
    })
}
