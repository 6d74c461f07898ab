//! One durable execution as the host holds it: the execution's own fields
//! (its head), its operations in the order they were first checkpointed,
//! its history, and its checkpoint tokens. What is stored changes only
//! through [`Execution::commit`]: every change is first computed as
//! [`Changes`], written to the store, and only then applied, so memory
//! never runs ahead of the disk. The few fields that are not stored (what
//! the next checkpoint answer must carry, the last answer for a retry,
//! whether an invocation runs) are the engine's to set directly.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::history::{self, Facts};
use super::model::{
    CallbackOptions, ChainedInvokeOptions, ErrorObject, ExecStatus, ExecutionDetails, OpStatus,
    OpType, Operation,
};

/// The execution's fields that change as it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Head {
    pub status: ExecStatus,
    pub result: Option<String>,
    pub error: Option<ErrorObject>,
    pub end_ms: Option<i64>,
    /// The sequence number the current checkpoint token carries.
    pub token_seq: u64,
    pub next_event_id: u64,
    /// Invocations in a row that failed (made again after a delay, failing
    /// the execution after a few).
    pub failed_invocations: u32,
    /// Set while the execution is paused (or pausing).
    #[serde(default)]
    pub pause: Option<Pause>,
    /// Time spent paused with the execution timeout paused too (ms).
    #[serde(default)]
    pub paused_ms: i64,
}

/// A `PauseDurableExecution` in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pause {
    pub requested_ms: i64,
    pub reason: Option<String>,
    /// Whether the execution timeout stops while paused.
    pub timeout_paused: bool,
}

/// What the host keeps of an operation beyond what the API shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Extra {
    /// The operation's place among the execution's operations.
    pub seq: u64,
    pub callback: Option<CallbackOptions>,
    /// The last heartbeat of a callback (epoch ms).
    pub heartbeat_ms: Option<i64>,
    pub invoke: Option<ChainedInvokeOptions>,
    pub invoke_input: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpRecord {
    pub op: Operation,
    pub extra: Extra,
}

/// A change to one execution, to be stored and then committed.
#[derive(Debug, Clone)]
pub struct Changes {
    pub head: Head,
    /// New versions of operations (inserted or replaced by id).
    pub ops: Vec<OpRecord>,
    pub events: Vec<Value>,
}

impl Changes {
    pub fn new(exec: &Execution) -> Changes {
        Changes {
            head: exec.head.clone(),
            ops: Vec::new(),
            events: Vec::new(),
        }
    }

    /// The operation `id` as this change leaves it so far.
    pub fn current<'a>(&'a self, exec: &'a Execution, id: &str) -> Option<&'a OpRecord> {
        self.ops
            .iter()
            .rev()
            .find(|r| r.op.id == id)
            .or_else(|| exec.op(id))
    }

    /// Records `after` as the new version of its operation, with the event
    /// its change makes.
    pub fn put(&mut self, exec: &Execution, after: OpRecord, facts: &Facts, now_ms: i64) {
        let before = self.current(exec, &after.op.id).map(|r| r.op.clone());
        let id = self.head.next_event_id;
        if let Some(e) = history::event(before.as_ref(), &after.op, facts, id, now_ms) {
            self.events.push(e);
            self.head.next_event_id += 1;
        }
        self.ops.push(after);
    }

    pub fn push_event(&mut self, make: impl FnOnce(u64) -> Value) {
        let id = self.head.next_event_id;
        self.events.push(make(id));
        self.head.next_event_id += 1;
    }
}

/// What an execution is, fixed at its start.
#[derive(Debug, Clone)]
pub struct Meta {
    pub arn: String,
    pub name: String,
    /// The function's name, as in the manifest.
    pub function: String,
    /// The function's ARN, qualified with the version it runs.
    pub function_arn: String,
    pub input: String,
    pub start_ms: i64,
    pub timeout_s: u64,
    pub retention_days: u64,
    /// Part of every checkpoint token, so that tokens cannot be guessed.
    pub secret: String,
}

#[derive(Debug, Clone)]
pub struct Execution {
    pub meta: Meta,
    pub head: Head,
    ops: Vec<OpRecord>,
    index: HashMap<String, usize>,
    pub events: Vec<Value>,
    /// Operations the host changed (timers, callbacks, chained invokes)
    /// since the last checkpoint answered: the next answer carries them.
    pub changed_by_host: Vec<String>,
    /// The last checkpoint with a client token, to answer its retry alike.
    pub last_checkpoint: Option<LastCheckpoint>,
    /// An invocation of the function is under way (not stored: after a
    /// restart none is).
    pub invoking: bool,
}

/// What a checkpoint answers: the next token (none once the execution
/// ended, or paused) and the operations that changed.
#[derive(Debug, Clone)]
pub struct Checkpointed {
    pub token: Option<String>,
    pub operations: Vec<Operation>,
}

#[derive(Debug, Clone)]
pub struct LastCheckpoint {
    pub client_token: String,
    /// The checkpoint token it came with.
    pub token: String,
    pub answer: Checkpointed,
}

impl Execution {
    /// A new execution (`meta.secret` is made here) and the changes that
    /// record its start.
    pub fn start(mut meta: Meta) -> (Execution, Changes) {
        meta.secret = secret();
        let now_ms = meta.start_ms;
        let input = meta.input.clone();
        let timeout_s = meta.timeout_s;
        let exec = Execution {
            meta,
            head: Head {
                status: ExecStatus::Running,
                result: None,
                error: None,
                end_ms: None,
                token_seq: 1,
                next_event_id: 1,
                failed_invocations: 0,
                pause: None,
                paused_ms: 0,
            },
            ops: Vec::new(),
            index: HashMap::new(),
            events: Vec::new(),
            changed_by_host: Vec::new(),
            last_checkpoint: None,
            invoking: false,
        };
        let mut changes = Changes::new(&exec);
        let op = Operation {
            id: exec.execution_op_id().to_string(),
            parent_id: None,
            name: Some(exec.meta.name.clone()),
            kind: OpType::Execution,
            sub_type: None,
            start_timestamp: now_ms,
            end_timestamp: None,
            status: OpStatus::Started,
            execution_details: Some(ExecutionDetails {
                input_payload: Some(input),
            }),
            context_details: None,
            step_details: None,
            wait_details: None,
            callback_details: None,
            chained_invoke_details: None,
        };
        let facts = Facts {
            execution_timeout_s: Some(timeout_s),
            ..Facts::default()
        };
        let record = OpRecord {
            op,
            extra: Extra::default(),
        };
        changes.put(&exec, record, &facts, now_ms);
        (exec, changes)
    }

    /// An execution as the store kept it.
    pub fn restore(
        meta: Meta,
        head: Head,
        mut ops: Vec<OpRecord>,
        events: Vec<Value>,
    ) -> Execution {
        ops.sort_by_key(|r| r.extra.seq);
        let index = ops
            .iter()
            .enumerate()
            .map(|(i, r)| (r.op.id.clone(), i))
            .collect();
        Execution {
            meta,
            head,
            ops,
            index,
            events,
            changed_by_host: Vec::new(),
            last_checkpoint: None,
            invoking: false,
        }
    }

    /// The id of the operation that stands for the execution itself: the
    /// last segment of its ARN, where the SDKs look for it.
    pub fn execution_op_id(&self) -> &str {
        self.meta.arn.rsplit('/').next().unwrap_or_default()
    }

    pub fn op(&self, id: &str) -> Option<&OpRecord> {
        self.index.get(id).map(|&i| &self.ops[i])
    }

    pub fn ops(&self) -> impl Iterator<Item = &OpRecord> {
        self.ops.iter()
    }

    /// Whether the execution has not ended (it may be paused).
    pub fn is_open(&self) -> bool {
        self.head.status.is_open()
    }

    /// Whether the function may be invoked for it now (not paused).
    pub fn may_invoke(&self) -> bool {
        self.head.status == ExecStatus::Running
    }

    /// When the execution times out (epoch ms); `None` while its timeout is paused.
    pub fn deadline_ms(&self) -> Option<i64> {
        if self.head.pause.as_ref().is_some_and(|p| p.timeout_paused) {
            return None;
        }
        Some(self.meta.start_ms + self.meta.timeout_s as i64 * 1000 + self.head.paused_ms)
    }

    /// Applies changes that the store has made durable.
    pub fn commit(&mut self, changes: Changes, by_host: bool) {
        for record in final_versions(self, &changes) {
            let id = record.op.id.clone();
            match self.index.get(&id) {
                Some(&i) => self.ops[i] = record,
                None => {
                    self.index.insert(id.clone(), self.ops.len());
                    self.ops.push(record);
                }
            }
            if by_host && !self.changed_by_host.contains(&id) {
                self.changed_by_host.push(id);
            }
        }
        self.head = changes.head;
        self.events.extend(changes.events);
    }

    /// The current checkpoint token.
    pub fn token(&self) -> String {
        token(&self.meta, self.head.token_seq)
    }

    /// Whether `given` is the current token; otherwise why not.
    pub fn check_token(&self, given: &str) -> Result<(), &'static str> {
        use base64::Engine;
        let seq = base64::engine::general_purpose::STANDARD
            .decode(given)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|t| {
                t.split_once('.')
                    .and_then(|(seq, _)| seq.parse::<u64>().ok())
            });
        // Compared whole, in constant time; an older sequence number that
        // carries a valid MAC was issued here and has been used.
        let known =
            seq.filter(|&seq| seq <= self.head.token_seq && same(&token(&self.meta, seq), given));
        // The SDKs retry on "Invalid checkpoint token…" and fail the
        // execution on any other refusal: both cases must start so.
        match known {
            Some(seq) if seq == self.head.token_seq => Ok(()),
            Some(_) => Err("Invalid checkpoint token: it was already used"),
            None => Err("Invalid checkpoint token"),
        }
    }
}

/// A token is a sequence number and a MAC of it (keyed by the execution's
/// secret, over its ARN), in base64 as the service's tokens are: one token
/// tells nothing about the next.
fn token(meta: &Meta, seq: u64) -> String {
    use base64::Engine;
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(meta.secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(format!("{}\n{seq}", meta.arn).as_bytes());
    let tag: String = mac.finalize().into_bytes()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    base64::engine::general_purpose::STANDARD.encode(format!("{seq}.{tag}"))
}

/// Equality that takes as long whatever differs.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The last version of each operation `changes` touches, in the order
/// they were first touched, each with its place among the execution's
/// operations (`extra.seq`): kept for one it had, next for a new one.
pub fn final_versions(exec: &Execution, changes: &Changes) -> Vec<OpRecord> {
    let mut out: Vec<OpRecord> = Vec::new();
    let mut next = exec.ops.len() as u64;
    for record in &changes.ops {
        let mut record = record.clone();
        if let Some(slot) = out.iter_mut().find(|r| r.op.id == record.op.id) {
            record.extra.seq = slot.extra.seq;
            *slot = record;
            continue;
        }
        record.extra.seq = match exec.op(&record.op.id) {
            Some(old) => old.extra.seq,
            None => {
                next += 1;
                next - 1
            }
        };
        out.push(record);
    }
    out
}

/// A callback's id: OS randomness in hex (a callback id is a capability,
/// so not the request ids' fast generator), which fits the service's
/// pattern for callback ids and needs no escaping in a URI.
pub fn callback_id() -> String {
    format!("{}{}", secret(), secret())
}

/// 122 bits from the OS, in hex.
fn secret() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
