//! A type as a user would write it: `Vec<i64>`, not the token printer's `Vec < i64 >`.

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};

/// Prints tokens with a space only where Rust customarily puts one: between two words
/// (`dyn Trait`, `&'a str`), after a comma or semicolon, and around `->`, `+` and `=`.
pub(crate) fn tidy(tokens: TokenStream) -> String {
    let mut out = String::new();
    write_tokens(tokens, &mut out);
    out.trim_end().to_owned()
}

/// What the previous token was, which decides whether a space goes before the next one.
#[derive(Clone, Copy, PartialEq)]
enum Previous {
    Nothing,
    Word,
    Punct(char, Spacing),
}

fn write_tokens(tokens: TokenStream, out: &mut String) {
    let mut previous = Previous::Nothing;
    for token in tokens {
        previous = match token {
            TokenTree::Ident(ident) => {
                if previous == Previous::Word {
                    out.push(' ');
                }
                out.push_str(&ident.to_string());
                Previous::Word
            }
            TokenTree::Literal(literal) => {
                if previous == Previous::Word {
                    out.push(' ');
                }
                out.push_str(&literal.to_string());
                Previous::Word
            }
            TokenTree::Punct(punct) => {
                let ch = punct.as_char();
                let opens_arrow = ch == '-' && punct.spacing() == Spacing::Joint;
                if (opens_arrow || ch == '+' || ch == '=') && previous != Previous::Nothing {
                    out.push(' ');
                }
                out.push(ch);
                let closes_arrow = ch == '>' && previous == Previous::Punct('-', Spacing::Joint);
                if closes_arrow || matches!(ch, ',' | ';' | '+' | '=') {
                    out.push(' ');
                }
                Previous::Punct(ch, punct.spacing())
            }
            TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::Brace => ("{", "}"),
                    Delimiter::None => ("", ""),
                };
                if previous == Previous::Word && group.delimiter() == Delimiter::Brace {
                    out.push(' ');
                }
                out.push_str(open);
                write_tokens(group.stream(), out);
                // A trailing comma's space has nothing after it: `(u32,)`.
                while out.ends_with(' ') {
                    out.pop();
                }
                out.push_str(close);
                Previous::Word
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::tidy;
    use quote::quote;

    #[test]
    fn prints_types_as_written() {
        let cases = [
            (quote!(i64), "i64"),
            (quote!(Vec<i64>), "Vec<i64>"),
            (quote!(Vec<Vec<u8>>), "Vec<Vec<u8>>"),
            (
                quote!(std::collections::BTreeMap<String, u64>),
                "std::collections::BTreeMap<String, u64>",
            ),
            (quote!((u32, String)), "(u32, String)"),
            (quote!((u32,)), "(u32,)"),
            (quote!([u8; 4]), "[u8; 4]"),
            (quote!(&'static str), "&'static str"),
            (quote!(&mut T), "&mut T"),
            (quote!(Box<dyn Fn(u8) -> u8>), "Box<dyn Fn(u8) -> u8>"),
            (quote!(Option<()>), "Option<()>"),
            (quote!(<T as Trait>::Assoc), "<T as Trait>::Assoc"),
            (
                quote!(Box<dyn Iterator<Item = u8> + Send>),
                "Box<dyn Iterator<Item = u8> + Send>",
            ),
        ];
        for (tokens, expected) in cases {
            assert_eq!(tidy(tokens), expected);
        }
    }
}
