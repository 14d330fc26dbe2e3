//! A typed test client: a browser that keeps its cookies, reads pages with a
//! real HTML parser, fills the forms it finds and submits them with the
//! fields the page gave (the anti-CSRF token among them), and calls the JSON
//! API with the session's `X-CSRF-Token`.
//!
//! ```ignore
//! let web = Client::new(&app);
//! web.sign_in_as(&handle, &person.password).await.expect_status(303);
//! let page = web.get("/account/profile").await;
//! let done = page.form("/account/profile").set("first_name", "Ada").submit().await;
//! assert_eq!(done.status, 303);
//! ```

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use scraper::{ElementRef, Html, Selector};

use crate::{Person, TestApp, browser};

/// A browser on one instance: cookies kept, redirects not followed (tests
/// look at each `Location`, or call [`Page::follow`]).
#[derive(Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    /// A fresh browser, without cookies, on `app`.
    pub fn new(app: &TestApp) -> Self {
        Self::on(&app.base, browser())
    }

    /// A client over an existing reqwest client (cookies shared with it),
    /// for tests that mix both styles.
    pub fn on(base: &str, http: reqwest::Client) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http,
        }
    }

    /// The underlying reqwest client, cookies included.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// An absolute URL for `path`; absolute URLs pass through.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    /// Fetches a page.
    pub async fn get(&self, path: &str) -> Page {
        let url = self.url(path);
        let resp = self.http.get(&url).send().await.expect("GET request");
        Page::read(self.clone(), url, resp).await
    }

    /// Posts a urlencoded form as it is, without reading any page first.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let url = self.url(path);
        let resp = self
            .http
            .post(&url)
            .form(fields)
            .send()
            .await
            .expect("POST request");
        Page::read(self.clone(), url, resp).await
    }

    /// Signs in through the login form with an identifier (handle, email,
    /// `<code>/<ID>`) and a password; returns the answer to the POST (a 303
    /// on success).
    pub async fn sign_in_as(&self, identifier: &str, password: &str) -> Page {
        self.get("/login")
            .await
            .form("/login")
            .set("identifier", identifier)
            .set("password", password)
            .submit()
            .await
    }

    /// Signs `person` in by their email address and checks that the login
    /// went through.
    pub async fn sign_in(&self, person: &Person) -> Page {
        let page = self.sign_in_as(&person.email, &person.password).await;
        assert_eq!(page.status, 303, "sign-in refused: {}", page.body);
        page
    }

    /// The session's anti-CSRF token, as scripts read it: from the `me`
    /// document of the JSON API.
    pub async fn api_csrf(&self) -> String {
        let (status, me) = self.api_get("/api/v1/account/users/me").await;
        assert_eq!(status, 200, "{me}");
        me["csrf"].as_str().expect("csrf in me").to_owned()
    }

    /// A JSON API GET: the status and the body (`Null` when it is not JSON).
    pub async fn api_get(&self, path: &str) -> (StatusCode, serde_json::Value) {
        self.api(Method::GET, path, "", None).await
    }

    /// A JSON API POST with the session's token in `X-CSRF-Token`.
    pub async fn api_post(
        &self,
        path: &str,
        csrf: &str,
        body: serde_json::Value,
    ) -> (StatusCode, serde_json::Value) {
        self.api(Method::POST, path, csrf, Some(body)).await
    }

    /// Any JSON API call; `csrf` goes in `X-CSRF-Token` when not empty.
    pub async fn api(
        &self,
        method: Method,
        path: &str,
        csrf: &str,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, serde_json::Value) {
        let mut req = self.http.request(method, self.url(path));
        if !csrf.is_empty() {
            req = req.header("x-csrf-token", csrf);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("API request");
        let status = resp.status();
        let text = resp.text().await.expect("API body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }
}

/// An answer: status, headers and body, with the forms it holds.
pub struct Page {
    /// The status code.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body as text.
    pub body: String,
    /// The URL it answered.
    pub url: String,
    client: Client,
}

impl Page {
    async fn read(client: Client, url: String, resp: reqwest::Response) -> Self {
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.text().await.expect("body");
        Self {
            status,
            headers,
            body,
            url,
            client,
        }
    }

    /// Panics with the body unless the status is `status`; returns the page.
    pub fn expect_status(self, status: u16) -> Self {
        assert_eq!(self.status, status, "{}: {}", self.url, self.body);
        self
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Location` of a redirect.
    pub fn location(&self) -> &str {
        self.header("location")
            .unwrap_or_else(|| panic!("no Location ({}): {}", self.status, self.body))
    }

    /// Fetches where a redirect points.
    pub async fn follow(&self) -> Page {
        self.client.get(self.location()).await
    }

    /// The value of the first field named `name` (hidden inputs included).
    pub fn field(&self, name: &str) -> Option<String> {
        field_value(&self.body, name)
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The form whose `action` is `target`, or else the first one matching
    /// `target` as a CSS selector. Panics, with the page, when none does.
    pub fn form(&self, target: &str) -> Form {
        self.try_form(target)
            .unwrap_or_else(|| panic!("no form {target:?} in {}", self.body))
    }

    /// The form [`Page::form`] finds, or `None` when the page does not offer
    /// it (any more).
    pub fn try_form(&self, target: &str) -> Option<Form> {
        let doc = Html::parse_document(&self.body);
        let forms = selector("form");
        let by_action = doc
            .select(&forms)
            .find(|f| f.value().attr("action") == Some(target));
        let found = by_action.or_else(|| {
            Selector::parse(target)
                .ok()
                .and_then(|s| doc.select(&s).find(|e| e.value().name() == "form"))
        });
        let form = found?;
        let action = form
            .value()
            .attr("action")
            .map_or_else(|| self.url.clone(), str::to_owned);
        let method = form.value().attr("method").unwrap_or("get").to_lowercase();
        Some(Form {
            client: self.client.clone(),
            action,
            method,
            fields: fields_of(form),
        })
    }
}

impl Page {
    /// The form whose `action` is `action` and whose field `name` holds
    /// `value`: one row's form among many that post to the same place (a
    /// session to end, an application to withdraw). Panics, with the page,
    /// when none does.
    pub fn form_with(&self, action: &str, name: &str, value: &str) -> Form {
        let doc = Html::parse_document(&self.body);
        let form = doc
            .select(&selector("form"))
            .filter(|f| f.value().attr("action") == Some(action))
            .find(|f| fields_of(*f).iter().any(|(n, v)| n == name && v == value))
            .unwrap_or_else(|| panic!("no form {action:?} with {name}={value:?} in {}", self.body));
        Form {
            client: self.client.clone(),
            action: action.to_owned(),
            method: form.value().attr("method").unwrap_or("get").to_lowercase(),
            fields: fields_of(form),
        }
    }
}

/// A form read from a page: where it goes and the fields a browser would
/// send unless told otherwise.
#[derive(Clone, Debug)]
pub struct Form {
    client: Client,
    /// Where it submits.
    pub action: String,
    /// `get` or `post`.
    pub method: String,
    /// Its fields in page order, as `(name, value)`.
    pub fields: Vec<(String, String)>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base).finish()
    }
}

impl Form {
    /// A field's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Sets a field, adding it when the form did not have it.
    pub fn set(mut self, name: &str, value: &str) -> Self {
        match self.fields.iter_mut().find(|(n, _)| n == name) {
            Some(f) => f.1 = value.to_owned(),
            None => self.fields.push((name.to_owned(), value.to_owned())),
        }
        self
    }

    /// Sets several fields, in order.
    pub fn fill(self, fields: &[(&str, &str)]) -> Self {
        fields
            .iter()
            .fold(self, |f, (name, value)| f.set(name, value))
    }

    /// Removes a field, as a tampering client would.
    pub fn remove(mut self, name: &str) -> Self {
        self.fields.retain(|(n, _)| n != name);
        self
    }

    /// Submits the form with its fields.
    pub async fn submit(self) -> Page {
        let client = self.client.clone();
        let url = client.url(&self.action);
        let resp = self.send().await;
        Page::read(client, url, resp).await
    }

    /// Submits the form and hands back the raw response, for call sites
    /// that read it themselves (cookies, streaming).
    pub async fn send(self) -> reqwest::Response {
        let url = self.client.url(&self.action);
        let req = if self.method == "post" {
            self.client.http.post(&url).form(&self.fields)
        } else {
            self.client.http.get(&url).query(&self.fields)
        };
        req.send().await.expect("form submission")
    }
}

fn selector(css: &str) -> Selector {
    Selector::parse(css).expect("a valid selector")
}

/// The fields a browser sends for `form`: inputs with a name (checkboxes
/// and radios only when checked; buttons left out, since which one is
/// pressed is the test's choice), selects at their selected (or first)
/// option, textareas.
fn fields_of(form: ElementRef<'_>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for el in form.select(&selector("input[name], select[name], textarea[name]")) {
        let e = el.value();
        let name = e.attr("name").unwrap_or_default().to_owned();
        match e.name() {
            "input" => {
                let kind = e.attr("type").unwrap_or("text").to_lowercase();
                if matches!(
                    kind.as_str(),
                    "submit" | "button" | "image" | "reset" | "file"
                ) {
                    continue;
                }
                if matches!(kind.as_str(), "checkbox" | "radio") && e.attr("checked").is_none() {
                    continue;
                }
                let default = if matches!(kind.as_str(), "checkbox" | "radio") {
                    "on"
                } else {
                    ""
                };
                out.push((name, e.attr("value").unwrap_or(default).to_owned()));
            }
            "select" => {
                let options: Vec<_> = el.select(&selector("option")).collect();
                let chosen = options
                    .iter()
                    .find(|o| o.value().attr("selected").is_some())
                    .or(options.first());
                if let Some(o) = chosen {
                    let text: String = o.text().collect();
                    out.push((name, o.value().attr("value").unwrap_or(&text).to_owned()));
                }
            }
            _ => out.push((name, el.text().collect())),
        }
    }
    out
}

/// The value of the first element named `name` that has a value, read with
/// the HTML parser (entities decoded, as a browser submits it).
pub fn field_value(html: &str, name: &str) -> Option<String> {
    let doc = Html::parse_document(html);
    let named = Selector::parse(&format!("[name=\"{name}\"][value]")).ok()?;
    doc.select(&named)
        .next()
        .and_then(|e| e.value().attr("value"))
        .map(str::to_owned)
}
