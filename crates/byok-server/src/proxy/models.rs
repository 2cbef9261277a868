//! Which models a proxied request asks for, so that a virtual key's model list holds:
//! the JSON body's `model` (OpenAI, Anthropic, Groq, OpenRouter, Azure), the path's
//! `models/{model}` (Gemini, Vertex), `model/{id}` (Bedrock) and
//! `deployments/{name}` (Azure OpenAI). A request that names no model (a listing, a
//! file) is not held to the list.

use byok_core::VirtualKey;
use percent_encoding::percent_decode_str;

use super::refusal::Refusal;

/// Refuses the request when it names a model `key` may not ask for.
pub(super) fn check(key: &VirtualKey, path: &str, body: Option<&[u8]>) -> Result<(), Refusal> {
    if key.models.is_empty() {
        return Ok(());
    }
    // The name is not echoed back: it is the caller's input, whatever it holds.
    match requested(path, body).iter().all(|model| key.allows_model(model)) {
        true => Ok(()),
        false => Err(Refusal::ModelNotAllowed),
    }
}

/// Every model name the request carries.
fn requested(path: &str, body: Option<&[u8]>) -> Vec<String> {
    let mut models = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    for pair in segments.windows(2) {
        if matches!(pair[0], "models" | "model" | "deployments") && !pair[1].is_empty() {
            let name = percent_decode_str(pair[1]).decode_utf8_lossy();
            // Gemini's `models/gemini-2.0-flash:generateContent`.
            let name = if pair[0] == "models" {
                name.split(':').next().unwrap_or_default().to_owned()
            } else {
                name.into_owned()
            };
            models.push(name);
        }
    }
    if let Some(model) = body
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
        .and_then(|v| v.get("model").and_then(|m| m.as_str()).map(str::to_owned))
    {
        models.push(model);
    }
    models
}

#[cfg(test)]
mod tests {
    use byok_core::{ModelPattern, TokenId};

    use super::*;

    fn key(models: &[&str]) -> VirtualKey {
        VirtualKey {
            token_id: TokenId::new(),
            providers: Vec::new(),
            monthly_limit: None,
            monthly_token_limit: None,
            rate_limit_per_minute: None,
            models: models.iter().map(|m| ModelPattern::parse(m).unwrap()).collect(),
        }
    }

    #[test]
    fn models_come_from_the_body_and_the_path() {
        assert_eq!(requested("/v1/chat/completions", Some(br#"{"model":"gpt-4o"}"#)), ["gpt-4o"]);
        assert_eq!(requested("/v1beta/models/gemini-2.0-flash:generateContent", None), ["gemini-2.0-flash"]);
        assert_eq!(
            requested("/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse", Some(b"{}")),
            ["anthropic.claude-3-5-sonnet-20240620-v1:0"]
        );
        assert_eq!(requested("/openai/deployments/gpt4o-prod/chat/completions", None), ["gpt4o-prod"]);
        assert!(requested("/v1/models", None).is_empty());
        assert!(requested("/v1/files", Some(b"not json")).is_empty());
    }

    #[test]
    fn a_key_with_a_list_refuses_other_models_and_every_name_counts() {
        let limited = key(&["gpt-4o-mini", "gemini-2.0-*"]);
        assert!(check(&limited, "/v1/chat/completions", Some(br#"{"model":"gpt-4o-mini"}"#)).is_ok());
        assert!(check(&limited, "/v1beta/models/gemini-2.0-flash:streamGenerateContent", None).is_ok());
        assert!(matches!(
            check(&limited, "/v1/chat/completions", Some(br#"{"model":"gpt-4o"}"#)),
            Err(Refusal::ModelNotAllowed)
        ));
        assert!(check(&limited, "/v1beta/models/gemini-2.0-flash:x", Some(br#"{"model":"o1"}"#)).is_err());
        assert!(check(&limited, "/v1/models", None).is_ok(), "a listing names no model");
        assert!(check(&key(&[]), "/v1/chat/completions", Some(br#"{"model":"anything"}"#)).is_ok());
    }
}
