//! How the settings page groups providers: by what they are for, from the catalog's
//! categories.

use byok_core::{Category, ProviderSpec};

/// The page's groups, in page order.
const HEADINGS: [&str; 6] = ["AI", "Media", "Messaging", "Search", "Cloud", "Other"];

fn heading(category: Category) -> &'static str {
    match category {
        Category::Llm => "AI",
        Category::Media => "Media",
        Category::Messaging | Category::Email => "Messaging",
        Category::Search => "Search",
        Category::Cloud => "Cloud",
        Category::Other => "Other",
    }
}

/// Providers under their heading, in catalog order within one; empty groups left out.
pub(crate) fn grouped<'a>(
    providers: impl Iterator<Item = &'a ProviderSpec>,
) -> Vec<(&'static str, Vec<&'a ProviderSpec>)> {
    let providers: Vec<&ProviderSpec> = providers.collect();
    HEADINGS
        .iter()
        .map(|h| (*h, providers.iter().copied().filter(|p| heading(p.category) == *h).collect::<Vec<_>>()))
        .filter(|(_, members)| !members.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_providers_fall_into_the_five_groups() {
        let catalog = byok_providers::build_catalog(Vec::new()).unwrap();
        let groups: Vec<(&str, Vec<&str>)> = grouped(catalog.providers())
            .into_iter()
            .map(|(h, ps)| (h, ps.iter().map(|p| p.id.as_str()).collect()))
            .collect();
        assert_eq!(
            groups,
            [
                ("AI", vec!["openai", "anthropic", "gemini", "groq", "openrouter"]),
                ("Media", vec!["stability", "runway"]),
                ("Messaging", vec!["twilio", "resend"]),
                ("Search", vec!["exa"]),
                ("Cloud", vec!["aws", "azure", "gcp"]),
            ]
        );
    }
}
