//! The extensions of one sandbox, as the Extensions API sees them.
//!
//! Owns who registered (external extensions, named for their files in
//! `/opt/extensions`, and internal ones, registered from inside the
//! runtime), what each subscribed to, where each stands in the lifecycle
//! (registered, waiting in `/event/next`, busy with an event) and the events
//! on their way to them. The sandbox asks it the lifecycle's questions: have
//! all external extensions registered (the runtime starts then), are all
//! waiting for an event (init is over, an invocation's phase is over). It
//! knows nothing of processes or HTTP.

use crate::sync::lock;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Value};
use tokio::sync::{watch, Notify};

use super::telemetry::{Event, Telemetry};
use crate::outcome::{ExtensionFailure, Failure};

/// Lambda's limit on the extensions of a function, internal and external.
pub const MAX_EXTENSIONS: usize = 10;

/// What the registration answer tells an extension about its function.
#[derive(Debug, Clone)]
pub struct FunctionInfo {
    pub name: String,
    pub version: String,
    pub handler: String,
    pub account_id: String,
}

/// An Extensions API error: always 403 on Lambda, with this `errorType`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub error_type: &'static str,
    pub message: String,
}

fn api_error(error_type: &'static str, message: impl Into<String>) -> ApiError {
    ApiError {
        error_type,
        message: message.into(),
    }
}

/// A successful registration.
#[derive(Debug)]
pub struct Registered {
    pub id: String,
    pub body: Value,
}

/// What is called when an extension fails the sandbox (init or exit error).
pub type OnFatal = Arc<dyn Fn(Failure) + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Registered, has not asked for an event yet.
    Registered,
    /// Waiting in `/event/next`, or about to.
    Waiting,
    /// Has an event it has not finished with (it has not asked again).
    Busy,
    /// Reported an error; no further call succeeds.
    Failed,
}

struct Agent {
    id: String,
    name: String,
    external: bool,
    invoke: bool,
    shutdown: bool,
    stage: Stage,
    events: Arc<Mailslot>,
}

/// One extension's undelivered events.
#[derive(Default)]
struct Mailslot {
    queue: Mutex<VecDeque<Value>>,
    arrived: Notify,
}

#[derive(Default)]
struct Inner {
    agents: Vec<Agent>,
    /// Registration of new (internal) extensions ends with the runtime's
    /// first `/next`.
    closed: bool,
}

pub struct Registry {
    info: FunctionInfo,
    /// The file names of `/opt/extensions`.
    externals: Vec<String>,
    inner: Mutex<Inner>,
    /// Bumped on every change of stage, for the lifecycle's waits.
    changed: watch::Sender<()>,
    on_fatal: OnceLock<OnFatal>,
    /// The extensions' Telemetry and Logs API subscriptions.
    pub telemetry: Telemetry,
}

impl Registry {
    pub fn new(info: FunctionInfo, externals: Vec<String>) -> Registry {
        Registry {
            info,
            externals,
            inner: Mutex::default(),
            changed: watch::Sender::new(()),
            on_fatal: OnceLock::new(),
            telemetry: Telemetry::default(),
        }
    }

    pub fn externals(&self) -> &[String] {
        &self.externals
    }

    /// Sets what an extension's reported error does to the sandbox.
    pub fn set_on_fatal(&self, on_fatal: OnFatal) {
        let _ = self.on_fatal.set(on_fatal);
    }

    fn fatal(&self, kind: ExtensionFailure, detail: String) {
        if let Some(on_fatal) = self.on_fatal.get() {
            on_fatal(Failure::Extension { kind, detail });
        }
    }

    fn update<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let r = f(&mut lock(&self.inner));
        self.changed.send_replace(());
        r
    }

    fn holds(&self, test: impl Fn(&Inner) -> bool) -> bool {
        test(&lock(&self.inner))
    }

    /// Waits until `test` holds.
    async fn until(&self, test: impl Fn(&Inner) -> bool) {
        let mut changed = self.changed.subscribe();
        // The sender lives as long as self, so this cannot fail.
        let _ = changed.wait_for(|_| self.holds(&test)).await;
    }

    /// `POST /extension/register`: `name` from `Lambda-Extension-Name`,
    /// `features` from `Lambda-Extension-Accept-Feature`.
    pub fn register(
        &self,
        name: &str,
        features: &str,
        body: &[u8],
    ) -> Result<Registered, ApiError> {
        if name.is_empty() {
            return Err(api_error(
                "Extension.InvalidExtensionName",
                "Empty extension name",
            ));
        }
        let events = parse_events(body)?;
        let external = self.externals.iter().any(|e| e == name);
        let id = crate::ids::uuid().to_string();
        self.update(|inner| {
            may_register(inner, name, external, &events)?;
            inner.agents.push(Agent {
                id: id.clone(),
                name: name.to_string(),
                external,
                invoke: events.invoke,
                shutdown: events.shutdown,
                stage: Stage::Registered,
                events: Arc::default(),
            });
            Ok(())
        })?;
        let mut body = json!({
            "functionName": self.info.name,
            "functionVersion": self.info.version,
            "handler": self.info.handler,
        });
        if features.split(',').any(|f| f.trim() == "accountId") {
            body["accountId"] = json!(self.info.account_id);
        }
        Ok(Registered { id, body })
    }

    /// The name an extension registered under.
    pub fn name_of(&self, id: &str) -> Option<String> {
        let inner = lock(&self.inner);
        inner
            .agents
            .iter()
            .find(|a| a.id == id)
            .map(|a| a.name.clone())
    }

    /// The `platform.extension` events of init: each registered extension
    /// and the events it subscribed to.
    pub fn extension_events(&self) -> Vec<Event> {
        let inner = lock(&self.inner);
        inner
            .agents
            .iter()
            .map(|a| Event::Extension {
                name: a.name.clone(),
                events: [(a.invoke, "INVOKE"), (a.shutdown, "SHUTDOWN")]
                    .into_iter()
                    .filter_map(|(on, e)| on.then_some(e))
                    .collect(),
            })
            .collect()
    }

    /// Checks a `Lambda-Extension-Identifier` header's value.
    pub fn known(&self, id: Option<&str>) -> Result<(), ApiError> {
        let id = id.ok_or_else(|| {
            api_error(
                "Extension.MissingExtensionIdentifier",
                "Missing Lambda-Extension-Identifier header",
            )
        })?;
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(api_error(
                "Extension.InvalidExtensionIdentifier",
                "Invalid Lambda-Extension-Identifier",
            ));
        }
        if self.holds(|inner| inner.agents.iter().any(|a| a.id == id)) {
            Ok(())
        } else {
            Err(api_error(
                "Extension.UnknownExtensionIdentifier",
                format!("Unknown extension {id}"),
            ))
        }
    }

    /// `GET /extension/event/next`: marks the extension waiting (which ends
    /// its part of init or of an invocation) and waits for its next event.
    pub async fn next(&self, id: &str) -> Result<Value, ApiError> {
        let slot = self.update(|inner| {
            let agent = agent_mut(inner, id)?;
            if agent.stage == Stage::Failed {
                return Err(invalid_state(agent, "Ready"));
            }
            // An event already waiting is handed over at once: the
            // extension is busy with it, never waiting in between.
            if let Some(event) = lock(&agent.events.queue).pop_front() {
                agent.stage = Stage::Busy;
                return Ok(Err(event));
            }
            agent.stage = Stage::Waiting;
            Ok(Ok(agent.events.clone()))
        })?;
        let slot = match slot {
            Ok(slot) => slot,
            Err(event) => return Ok(event),
        };
        loop {
            let arrived = slot.arrived.notified();
            // Whoever queued it marked the extension busy.
            if let Some(event) = lock(&slot.queue).pop_front() {
                return Ok(event);
            }
            arrived.await;
        }
    }

    /// `POST /extension/init/error` (`exit` false) or `/exit/error`: the
    /// extension gives up, and with it the sandbox.
    pub fn report_error(
        &self,
        id: &str,
        exit: bool,
        error_type: Option<&str>,
    ) -> Result<(), ApiError> {
        let error_type = error_type.ok_or_else(|| {
            api_error(
                "Extension.MissingHeader",
                "Lambda-Extension-Function-Error-Type not found",
            )
        })?;
        let name = {
            let mut inner = lock(&self.inner);
            let agent = agent_mut(&mut inner, id)?;
            // init/error belongs to init; exit/error to any time before the end.
            let allowed = match agent.stage {
                Stage::Failed => false,
                Stage::Registered => true,
                Stage::Waiting | Stage::Busy => exit,
            };
            if !allowed {
                let target = if exit { "ExitError" } else { "InitError" };
                return Err(invalid_state(agent, target));
            }
            agent.name.clone()
        };
        let (kind, what) = if exit {
            (ExtensionFailure::Exit, "exit")
        } else {
            (ExtensionFailure::Init, "init")
        };
        // The sandbox fails before this extension stops counting as busy:
        // its invocation must not end as if all went well.
        self.fatal(
            kind,
            format!("extension {name} reported an {what} error: {error_type}"),
        );
        self.update(|inner| {
            if let Ok(agent) = agent_mut(inner, id) {
                agent.stage = Stage::Failed;
            }
        });
        Ok(())
    }

    /// Whether every external extension has registered.
    pub async fn externals_registered(&self) {
        self.until(|inner| {
            self.externals
                .iter()
                .all(|name| inner.agents.iter().any(|a| &a.name == name))
        })
        .await;
    }

    /// The external extensions that have not registered yet.
    pub fn unregistered(&self) -> Vec<String> {
        let inner = lock(&self.inner);
        self.externals
            .iter()
            .filter(|name| !inner.agents.iter().any(|a| &a.name == *name))
            .cloned()
            .collect()
    }

    /// Ends registration: the runtime has asked for its first event.
    pub fn close_registration(&self) {
        self.update(|inner| inner.closed = true);
    }

    /// Waits until no extension is registered without having asked for an
    /// event, or busy with one: init, or an invocation's phase, is over
    /// for the extensions.
    pub async fn all_waiting(&self) {
        self.until(|inner| {
            inner
                .agents
                .iter()
                .all(|a| matches!(a.stage, Stage::Waiting | Stage::Failed))
        })
        .await;
    }

    /// Whether any extension subscribed to INVOKE.
    pub fn wants_invoke(&self) -> bool {
        self.holds(|inner| inner.agents.iter().any(|a| a.invoke))
    }

    /// Hands `event` (an INVOKE) to every extension subscribed to it.
    pub fn invoke(&self, event: &Value) {
        self.deliver(event, |a| a.invoke);
    }

    /// Hands SHUTDOWN to the external extensions subscribed to it; returns
    /// the names of the external ones that were not (they are stopped at once).
    pub fn shutdown(&self, reason: &str, deadline_ms: u64) -> Vec<String> {
        let event = json!({
            "eventType": "SHUTDOWN",
            "shutdownReason": reason,
            "deadlineMs": deadline_ms,
        });
        self.deliver(&event, |a| a.external && a.shutdown);
        let inner = lock(&self.inner);
        let subscribed = |name: &String| {
            inner
                .agents
                .iter()
                // One that reported an error gets no event, but the same
                // time to exit as the others.
                .any(|a| &a.name == name && a.shutdown)
        };
        self.externals
            .iter()
            .filter(|n| !subscribed(n))
            .cloned()
            .collect()
    }

    fn deliver(&self, event: &Value, to: impl Fn(&Agent) -> bool) {
        let slots: Vec<Arc<Mailslot>> = self.update(|inner| {
            inner
                .agents
                .iter_mut()
                .filter(|a| a.stage != Stage::Failed && to(a))
                .map(|a| {
                    a.stage = Stage::Busy;
                    a.events.clone()
                })
                .collect()
        });
        for slot in slots {
            lock(&slot.queue).push_back(event.clone());
            slot.arrived.notify_one();
        }
    }

    /// Whether any internal extension registered (the runtime's shutdown
    /// grace is longer then).
    pub fn has_internal(&self) -> bool {
        self.holds(|inner| inner.agents.iter().any(|a| !a.external))
    }
}

struct Events {
    invoke: bool,
    shutdown: bool,
}

/// Whether `name` may register now: once only, and an internal extension
/// only during init, without SHUTDOWN, and within the limit.
fn may_register(
    inner: &Inner,
    name: &str,
    external: bool,
    events: &Events,
) -> Result<(), ApiError> {
    if let Some(agent) = inner.agents.iter().find(|a| a.name == name) {
        return Err(if agent.external {
            api_error(
                "Extension.InvalidExtensionState",
                format!(
                    "State transition from Registered to Registered failed for extension {name}. \
                     Error: State transition is not allowed"
                ),
            )
        } else {
            api_error(
                "Extension.InvalidExtensionState",
                "Extension with this name already registered",
            )
        });
    }
    if external {
        return Ok(());
    }
    if inner.closed {
        return Err(api_error(
            "Extension.RegistrationClosed",
            "Extension registration closed already",
        ));
    }
    if events.shutdown {
        return Err(api_error(
            "Extension.InvalidEventType",
            "SHUTDOWN: ShutdownEventNotSupportedForInternalExtension",
        ));
    }
    if inner.agents.len() >= MAX_EXTENSIONS {
        return Err(api_error(
            "Extension.TooManyExtensions",
            format!("Extension limit ({MAX_EXTENSIONS}) reached"),
        ));
    }
    Ok(())
}

/// The register body: `{"events": ["INVOKE", "SHUTDOWN"]}`, events optional.
fn parse_events(body: &[u8]) -> Result<Events, ApiError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Body {
        #[serde(default)]
        events: Vec<String>,
        #[serde(default)]
        configuration_keys: Vec<String>,
    }
    let body: Body = serde_json::from_slice(body)
        .map_err(|e| api_error("InvalidRequestFormat", e.to_string()))?;
    if !body.configuration_keys.is_empty() {
        return Err(api_error(
            "InvalidRequestFormat",
            "configurationKeys are deprecated; use environment variables instead",
        ));
    }
    let mut events = Events {
        invoke: false,
        shutdown: false,
    };
    for event in &body.events {
        match event.as_str() {
            "INVOKE" => events.invoke = true,
            "SHUTDOWN" => events.shutdown = true,
            other => {
                return Err(api_error(
                    "Extension.InvalidEventType",
                    format!("{other}: ErrorInvalidEventType"),
                ))
            }
        }
    }
    Ok(events)
}

fn agent_mut<'a>(inner: &'a mut Inner, id: &str) -> Result<&'a mut Agent, ApiError> {
    inner.agents.iter_mut().find(|a| a.id == id).ok_or_else(|| {
        api_error(
            "Extension.UnknownExtensionIdentifier",
            "Unknown Lambda-Extension-Identifier",
        )
    })
}

fn invalid_state(agent: &Agent, target: &str) -> ApiError {
    let from = match agent.stage {
        Stage::Registered => "Registered",
        Stage::Waiting => "Ready",
        Stage::Busy => "Running",
        Stage::Failed => "Errored",
    };
    api_error(
        "Extension.InvalidExtensionState",
        format!(
            "State transition from {from} to {target} failed for extension {}. \
             Error: State transition is not allowed",
            agent.name
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(externals: &[&str]) -> Registry {
        let info = FunctionInfo {
            name: "f".into(),
            version: "$LATEST".into(),
            handler: "app.handler".into(),
            account_id: "000000000000".into(),
        };
        Registry::new(info, externals.iter().map(|s| s.to_string()).collect())
    }

    const BOTH: &[u8] = br#"{"events":["INVOKE","SHUTDOWN"]}"#;

    #[test]
    fn registration_answers_with_the_function_and_checks_the_request() {
        let r = registry(&["ext"]);
        let ok = r.register("ext", "accountId", BOTH).unwrap();
        assert_eq!(ok.body["functionName"], "f");
        assert_eq!(ok.body["accountId"], "000000000000");
        assert!(uuid::Uuid::parse_str(&ok.id).is_ok());
        let error = |name: &str, body: &[u8]| r.register(name, "", body).unwrap_err().error_type;
        assert_eq!(error("ext", BOTH), "Extension.InvalidExtensionState");
        assert_eq!(error("", BOTH), "Extension.InvalidExtensionName");
        assert_eq!(error("x", b""), "InvalidRequestFormat");
        assert_eq!(
            error("x", br#"{"events":["FOO"]}"#),
            "Extension.InvalidEventType"
        );
        assert_eq!(
            error("x", BOTH),
            "Extension.InvalidEventType",
            "internal: no SHUTDOWN"
        );
        let internal = r.register("x", "", br#"{"events":["INVOKE"]}"#).unwrap();
        assert!(internal.body.get("accountId").is_none());
        r.close_registration();
        assert_eq!(error("y", b"{}"), "Extension.RegistrationClosed");
    }

    #[test]
    fn identifiers_are_checked_in_lambdas_order() {
        let r = registry(&[]);
        let error = |id: Option<&str>| r.known(id).unwrap_err().error_type;
        assert_eq!(error(None), "Extension.MissingExtensionIdentifier");
        assert_eq!(error(Some("nope")), "Extension.InvalidExtensionIdentifier");
        let stranger = crate::ids::uuid().to_string();
        assert_eq!(
            error(Some(&stranger)),
            "Extension.UnknownExtensionIdentifier"
        );
    }

    #[tokio::test]
    async fn an_invoke_is_over_for_extensions_when_its_subscribers_ask_again() {
        let r = Arc::new(registry(&["a", "b"]));
        let a = r.register("a", "", br#"{"events":["INVOKE"]}"#).unwrap().id;
        let b = r
            .register("b", "", br#"{"events":["SHUTDOWN"]}"#)
            .unwrap()
            .id;
        r.externals_registered().await;
        let wait_a = tokio::spawn({
            let r = r.clone();
            async move { r.next(&a).await }
        });
        let _wait_b = tokio::spawn({
            let r = r.clone();
            async move { r.next(&b).await }
        });
        r.all_waiting().await;
        r.invoke(&json!({"eventType": "INVOKE", "requestId": "r1"}));
        assert_eq!(wait_a.await.unwrap().unwrap()["requestId"], "r1");
        let phase = tokio::spawn({
            let r = r.clone();
            async move { r.all_waiting().await }
        });
        tokio::task::yield_now().await;
        assert!(!phase.is_finished(), "a has not asked for its next event");
        let a = lock(&r.inner).agents[0].id.clone();
        let _again = tokio::spawn({
            let r = r.clone();
            async move { r.next(&a).await }
        });
        phase.await.unwrap();
        assert_eq!(
            r.shutdown("spindown", 1),
            ["a"],
            "a did not subscribe to SHUTDOWN"
        );
    }

    #[test]
    fn an_error_report_is_fatal_once() {
        let r = registry(&["ext"]);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        r.set_on_fatal(Arc::new(move |f: Failure| lock(&sink).push(f.error_type())));
        let id = r.register("ext", "", b"{}").unwrap().id;
        assert_eq!(
            r.report_error(&id, false, None).unwrap_err().error_type,
            "Extension.MissingHeader"
        );
        r.report_error(&id, false, Some("Extension.Broken"))
            .unwrap();
        assert_eq!(*lock(&seen), ["Extension.InitError"]);
        assert_eq!(
            r.report_error(&id, true, Some("X")).unwrap_err().error_type,
            "Extension.InvalidExtensionState"
        );
    }
}
