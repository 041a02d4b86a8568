//! One t-SNE map as a self-contained task, and the request/reply conversation that runs it:
//! what the page's compute workers (`src/compute_worker.rs`) speak, kept here so that it compiles and
//! is tested natively like the rest of the core.
//!
//! The conversation is pulled by the caller: the worker starts the map when asked, then runs
//! iterations only while it is asked to, a short burst per request. So pausing is not asking,
//! cancelling is dropping the worker, and a worker never floods the page with more maps to
//! draw than it can paint. Everything here runs on the CPU in f64 (the code the page's own
//! thread runs on the CPU backend), so a map made in a worker is the map made anywhere else
//! from the same rows and settings, bit for bit.

use serde::{Deserialize, Serialize};

use super::quality::{MapQuality, map_quality};
use crate::embed::optimizer::CpuOptimizer;
use crate::embed::{CpuStart, Method, TsneConfig, start_on_cpu};

/// Everything one map needs: the rows to embed and the settings, and the true classes when the
/// finished map is to be scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapTask {
    /// N × `columns`, row-major.
    #[serde(with = "super::f32_wire")]
    pub rows: Vec<f32>,
    pub n: usize,
    pub columns: usize,
    /// Already fitted to N (the caller's choice of perplexity and method stand as given).
    pub config: TsneConfig,
    /// One class per row: the finished map gets trustworthiness and k-NN accuracy.
    pub labels: Option<Vec<usize>>,
}

/// Most values one message carries. A task with more rows sends them ahead of itself in
/// pieces this size ([`MapTask::into_requests`]), the next one when the worker has taken the
/// last: copying a message out of the page's memory and into the worker's costs the page a
/// few milliseconds per 2 MB, and 100,000 × 50 rows sent at once held a frame for 50–80 ms.
pub const VALUES_PER_MESSAGE: usize = 1 << 19;

impl MapTask {
    /// The requests that carry this task to a worker, to be sent one at a time, each after
    /// the reply to the one before: its rows in pieces when they are many, then the start.
    pub fn into_requests(self) -> TaskRequests {
        self.into_requests_of(VALUES_PER_MESSAGE)
    }

    fn into_requests_of(mut self, piece: usize) -> TaskRequests {
        // Rows that fit in one message stay in the task.
        let rows = if self.rows.len() > piece { std::mem::take(&mut self.rows) } else { Vec::new() };
        TaskRequests { rows, sent: 0, piece, start: Some(Box::new(self)) }
    }
}

/// The requests of one task ([`MapTask::into_requests`]), made as they are sent so that only
/// one piece of the rows is copied at a time.
#[derive(Debug)]
pub struct TaskRequests {
    rows: Vec<f32>,
    sent: usize,
    piece: usize,
    start: Option<Box<MapTask>>,
}

impl Iterator for TaskRequests {
    type Item = MapRequest;

    fn next(&mut self) -> Option<MapRequest> {
        if self.sent < self.rows.len() {
            let end = (self.sent + self.piece).min(self.rows.len());
            let piece = self.rows[self.sent..end].to_vec();
            self.sent = end;
            return Some(MapRequest::Rows(piece));
        }
        self.start.take().map(MapRequest::Start)
    }
}

/// What the caller asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MapRequest {
    /// A piece of the next task's rows, in order (answered by [`MapReply::RowsTaken`]); the
    /// task's `Start` comes after them and its own rows, if any, follow theirs.
    Rows(#[serde(with = "super::f32_wire")] Vec<f32>),
    /// Validate, compute the affinities and the initial map (the long, unsplittable part: up
    /// to half a minute for 100,000 points).
    Start(Box<MapTask>),
    /// Run iterations until the next one that reports its KL, the last one, or until
    /// `budget_ms` milliseconds have gone, whichever comes first.
    Iterate { budget_ms: f64 },
}

/// What the worker answers, one reply per request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MapReply {
    /// The map is prepared: the method `auto` chose, P's stored entries, the initial map.
    Started {
        method: Method,
        p_nnz: usize,
        #[serde(with = "super::f32_wire")]
        coords: Vec<f32>,
    },
    /// The map so far; `kl` on report iterations.
    Progress {
        iteration: usize,
        kl: Option<f64>,
        #[serde(with = "super::f32_wire")]
        coords: Vec<f32>,
    },
    /// The final map.
    Finished(FinishedMap),
    /// The task was refused or failed; the message is for the person.
    Failed(String),
    /// A piece of rows is kept for the coming task: the next request may be sent.
    RowsTaken,
}

/// A finished map: its coordinates (N×2), its KL (Barnes-Hut and FFT: their estimates) and,
/// when the task had labels, its scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinishedMap {
    #[serde(with = "super::f32_wire")]
    pub coords: Vec<f32>,
    pub kl: f64,
    pub quality: Option<MapQuality>,
}

/// The worker's side of the conversation: one map at a time.
#[derive(Debug, Default)]
pub struct MapServer {
    map: Option<RunningMap>,
    /// Rows sent ahead of the task they belong to.
    staged_rows: Vec<f32>,
}

#[derive(Debug)]
struct RunningMap {
    optimizer: CpuOptimizer,
    /// The rows the finished map is scored against, and their classes.
    rows: Vec<f32>,
    columns: usize,
    labels: Option<Vec<usize>>,
}

impl MapServer {
    /// Answers one request. `clock` gives milliseconds (any origin) for the iteration budget.
    pub fn handle(&mut self, request: MapRequest, clock: &dyn Fn() -> f64) -> MapReply {
        match request {
            MapRequest::Rows(mut piece) => {
                if self.staged_rows.is_empty() {
                    // The first piece becomes the buffer (no copy); the rest are appended to it.
                    self.staged_rows = piece;
                } else {
                    self.staged_rows.append(&mut piece);
                }
                MapReply::RowsTaken
            }
            MapRequest::Start(mut task) if !self.staged_rows.is_empty() => {
                let mut rows = std::mem::take(&mut self.staged_rows);
                rows.append(&mut task.rows);
                task.rows = rows;
                self.handle(MapRequest::Start(task), clock)
            }
            MapRequest::Start(task) => match start_on_cpu(&task.rows, task.n, task.columns, &task.config) {
                Ok(CpuStart { optimizer, method, p_nnz }) => {
                    let coords = embedding_f32(&optimizer);
                    let MapTask { rows, columns, labels, .. } = *task;
                    self.map = Some(RunningMap { optimizer, rows, columns, labels });
                    MapReply::Started { method, p_nnz, coords }
                }
                Err(e) => MapReply::Failed(e.to_string()),
            },
            MapRequest::Iterate { budget_ms } => {
                let Some(map) = self.map.as_mut() else {
                    return MapReply::Failed("no map has been started".into());
                };
                let deadline = clock() + budget_ms;
                let report = loop {
                    match map.optimizer.step() {
                        Ok(report) if report.finished || report.kl.is_some() || clock() >= deadline => break report,
                        Ok(_) => {}
                        Err(e) => return MapReply::Failed(e.to_string()),
                    }
                };
                let coords = embedding_f32(&map.optimizer);
                if !report.finished {
                    return MapReply::Progress { iteration: report.iteration, kl: report.kl, coords };
                }
                let map = self.map.take().expect("checked above");
                let quality =
                    map.labels.as_ref().and_then(|labels| map_quality(&map.rows, map.columns, &coords, labels));
                MapReply::Finished(FinishedMap { coords, kl: report.kl.unwrap_or(f64::NAN), quality })
            }
        }
    }
}

fn embedding_f32(optimizer: &CpuOptimizer) -> Vec<f32> {
    optimizer.embedding().iter().map(|&v| v as f32).collect()
}

/// Runs `task` to its end on this thread through the same requests a worker answers (the CLI
/// runs its maps on threads this way).
pub fn run_to_end(task: MapTask) -> Result<FinishedMap, String> {
    let mut server = MapServer::default();
    let mut request = MapRequest::Start(Box::new(task));
    loop {
        match server.handle(request, &|| 0.0) {
            MapReply::Finished(map) => return Ok(map),
            MapReply::Failed(message) => return Err(message),
            MapReply::Started { .. } | MapReply::Progress { .. } | MapReply::RowsTaken => {}
        }
        request = MapRequest::Iterate { budget_ms: f64::INFINITY };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::tsne;

    /// Three tight clusters of 20 points in 4 dimensions, and their labels.
    fn clusters() -> (Vec<f32>, Vec<usize>) {
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for i in 0..60 {
            let c = i % 3;
            labels.push(c);
            for j in 0..4 {
                let jitter = ((i * 7 + j * 13) % 17) as f32 / 17.0;
                rows.push(if j == c { 10.0 } else { 0.0 } + jitter);
            }
        }
        (rows, labels)
    }

    fn task() -> MapTask {
        let (rows, labels) = clusters();
        let config = TsneConfig { perplexity: 10.0, n_iter: 80, progress_every: 10, ..TsneConfig::opentsne(60) };
        MapTask { rows, n: 60, columns: 4, config, labels: Some(labels) }
    }

    #[test]
    fn a_served_map_is_the_map_made_in_one_go_and_reports_every_tenth_iteration() {
        let task = task();
        let direct =
            tsne(&task.rows, task.n, task.columns, &task.config, &mut |_| std::ops::ControlFlow::Continue(())).unwrap();
        let mut server = MapServer::default();
        let MapReply::Started { coords, .. } = server.handle(MapRequest::Start(Box::new(task)), &|| 0.0) else {
            panic!("the task starts");
        };
        assert_eq!(coords.len(), 120, "the initial map can be drawn at once");
        let mut reported = Vec::new();
        let finished = loop {
            match server.handle(MapRequest::Iterate { budget_ms: f64::INFINITY }, &|| 0.0) {
                MapReply::Progress { iteration, kl, coords } => {
                    assert!(kl.is_some(), "an unlimited budget runs to the next report");
                    assert_eq!(coords.len(), 120);
                    reported.push(iteration);
                }
                MapReply::Finished(map) => break map,
                other => panic!("unexpected {other:?}"),
            }
        };
        assert_eq!(reported, [10, 20, 30, 40, 50, 60, 70]);
        assert_eq!(finished.coords, direct.coords, "bit for bit");
        assert_eq!(finished.kl, direct.kl);
        let quality = finished.quality.expect("labelled tasks are scored");
        assert!(quality.knn_accuracy > 0.95, "three separate clusters: {quality:?}");
    }

    #[test]
    fn a_spent_budget_returns_after_one_iteration() {
        let mut server = MapServer::default();
        server.handle(MapRequest::Start(Box::new(task())), &|| 0.0);
        // The clock moves 1 ms per reading, so a zero budget is spent at the first check.
        let time = std::cell::Cell::new(0.0);
        let clock = || {
            time.set(time.get() + 1.0);
            time.get()
        };
        for expected in 0..3 {
            let MapReply::Progress { iteration, kl, .. } =
                server.handle(MapRequest::Iterate { budget_ms: 0.0 }, &clock)
            else {
                panic!("still running");
            };
            assert_eq!((iteration, kl), (expected, None));
        }
    }

    #[test]
    fn bad_requests_are_refused_with_a_message() {
        let mut server = MapServer::default();
        let MapReply::Failed(message) = server.handle(MapRequest::Iterate { budget_ms: 10.0 }, &|| 0.0) else {
            panic!("nothing to iterate");
        };
        assert!(message.contains("no map"), "{message}");
        let mut too_few = task();
        too_few.n = 5;
        too_few.rows.truncate(20);
        too_few.labels = None;
        let MapReply::Failed(message) = server.handle(MapRequest::Start(Box::new(too_few)), &|| 0.0) else {
            panic!("5 points cannot have perplexity 10");
        };
        assert!(message.contains("perplexity"), "{message}");
    }

    #[test]
    fn a_task_sent_in_pieces_is_the_task_sent_whole() {
        let whole = run_to_end(task()).unwrap();
        let mut server = MapServer::default();
        let mut requests = task().into_requests_of(7);
        let mut pieces = 0;
        let mut reply = None;
        for request in requests.by_ref() {
            if let MapRequest::Rows(piece) = &request {
                assert!(piece.len() <= 7);
                pieces += 1;
            }
            reply = Some(server.handle(request, &|| 0.0));
            if let Some(MapReply::RowsTaken) = reply {
                continue;
            }
            break;
        }
        // 240 values in pieces of 7 (the last one of 2), then the start.
        assert_eq!(pieces, 35);
        assert!(matches!(reply, Some(MapReply::Started { .. })), "{reply:?}");
        assert!(requests.next().is_none());
        let finished = loop {
            match server.handle(MapRequest::Iterate { budget_ms: f64::INFINITY }, &|| 0.0) {
                MapReply::Finished(map) => break map,
                MapReply::Progress { .. } => {}
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(finished, whole);
        // A task small enough goes whole, in its start.
        let mut small = task().into_requests();
        assert!(matches!(small.next(), Some(MapRequest::Start(t)) if t.rows == task().rows));
        assert!(small.next().is_none());
    }

    #[test]
    fn requests_and_replies_survive_the_workers_wire_format() {
        // gloo-worker's codec is bincode: every field must come back as it went.
        let request = MapRequest::Start(Box::new(task()));
        let wire = bincode::serialize(&request).unwrap();
        assert_eq!(bincode::deserialize::<MapRequest>(&wire).unwrap(), request);
        let reply = run_to_end(task()).unwrap();
        let reply = MapReply::Finished(reply);
        assert_eq!(bincode::deserialize::<MapReply>(&bincode::serialize(&reply).unwrap()).unwrap(), reply);
        let rows = MapRequest::Rows(vec![1.0, -2.5, f32::MAX]);
        assert_eq!(bincode::deserialize::<MapRequest>(&bincode::serialize(&rows).unwrap()).unwrap(), rows);
    }
}
