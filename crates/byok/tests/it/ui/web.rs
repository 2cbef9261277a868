//! A cookie-carrying client for the settings page that does not follow redirects, so
//! tests see exactly what byok answers.

use reqwest::redirect::Policy;

use crate::support::{Resp, TestApp};

pub struct Browser<'a> {
    pub app: &'a TestApp,
    client: reqwest::Client,
    pub cookie: Option<String>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        let client = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
        Self { app, client, cookie: None }
    }

    /// Signs in with a sign-in link and keeps the session cookie.
    pub async fn sign_in(app: &'a TestApp, token: &str) -> Self {
        let mut browser = Self::new(app);
        let r = browser.get(&format!("/ui/login?token={token}")).await;
        assert_eq!(r.status, 303, "{}", r.text);
        let set = r.headers.get("set-cookie").expect("a session cookie").to_str().unwrap();
        browser.cookie = Some(set.split(';').next().unwrap().to_owned());
        browser
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.app.send(self.with_cookie(self.client.get(self.app.url(path)))).await
    }

    /// A navigation the browser marks as coming from `site` (`Sec-Fetch-Site`).
    pub async fn get_from(&self, path: &str, site: &str) -> Resp {
        let req = self.client.get(self.app.url(path)).header("sec-fetch-site", site);
        self.app.send(self.with_cookie(req)).await
    }

    /// Posts a form as the page would (same-origin), fields as given.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let req = self.client.post(self.app.url(path)).header("sec-fetch-site", "same-origin").form(fields);
        self.app.send(self.with_cookie(req)).await
    }

    /// Posts with extra headers, for forgery tests.
    pub async fn post_with(&self, path: &str, fields: &[(&str, &str)], headers: &[(&str, &str)]) -> Resp {
        let mut req = self.client.post(self.app.url(path)).form(fields);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.app.send(self.with_cookie(req)).await
    }

    /// Posts a raw body with a content type, for malformed-input tests.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Resp {
        let req = self.client.post(self.app.url(path)).header("content-type", content_type).body(body);
        self.app.send(self.with_cookie(req)).await
    }

    /// The anti-forgery value the settings page puts in its forms.
    pub async fn form_token(&self) -> String {
        let page = self.get("/ui").await;
        assert_eq!(page.status, 200, "{}", page.text);
        form_token_in(&page.text)
    }

    fn with_cookie(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.cookie {
            Some(cookie) => req.header("cookie", cookie),
            None => req,
        }
    }
}

pub fn form_token_in(html: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let start = html.find(marker).expect("the page has a form token") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}
