//! The Prometheus HTTP API reply decoder (query and query_range replies).

use std::path::Path;

use slitop::sources::prometheus::{parse_envelope, Answer};

use super::gen::{json_any, json_pair, json_str, name, text};
use super::Target;
use crate::rng::Rng;

pub const TARGET: Target = Target {
    name: "prometheus",
    seeds,
    generate,
    tokens: &[
        b"\"status\":\"success\",",
        b"\"resultType\":\"vector\"",
        b"\"resultType\":\"matrix\"",
        b"\"resultType\":\"scalar\"",
        b"\"result\":[]",
        b"\"warnings\":[\"w\"]",
        b"[1.5,\"NaN\"]",
        b"[1e400,\"1\"]",
        b"\"metric\":{}",
        b"\"values\":[",
        b"<html>",
    ],
    max_len: crate::mutate::MAX_LEN,
    run,
};

/// Replies as the API documents them: vector, matrix, scalar, string and error envelopes.
fn seeds(_: &Path) -> Vec<Vec<u8>> {
    [
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"prometheus","instance":"localhost:9090"},"value":[1435781451.781,"1"]},{"metric":{"job":"node"},"value":[1435781451.781,"NaN"]}]}}"#,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up","job":"prometheus"},"values":[[1435781430.781,"1"],[1435781445.781,"+Inf"],[1435781460.781,"-Inf"]]}]},"warnings":["PromQL info: metric might not be a counter"],"infos":["x"]}"#,
        r#"{"status":"success","data":{"resultType":"scalar","result":[1435781451.781,"42"]}}"#,
        r#"{"status":"success","data":{"resultType":"string","result":[1435781451.781,"hello"]}}"#,
        r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unexpected end of input"}"#,
        r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
        "<html><body>502 Bad Gateway</body></html>",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

fn generate(rng: &mut Rng, _: &[Vec<u8>]) -> Vec<u8> {
    let status = json_str(rng.pick(&["success", "error", "", "Success"]));
    let kind = json_str(rng.pick(&["vector", "matrix", "scalar", "string", "streams", ""]));
    let items = (0..rng.below(5))
        .map(|_| item(rng))
        .collect::<Vec<_>>()
        .join(",");
    let result = match rng.below(3) {
        0 => format!("[{items}]"),
        1 => json_pair(rng),
        _ => json_any(rng, 2),
    };
    let mut body =
        format!("{{\"status\":{status},\"data\":{{\"resultType\":{kind},\"result\":{result}}}");
    if rng.one_in(3) {
        body += &format!(
            ",\"errorType\":{},\"error\":{}",
            json_str(&name(rng)),
            json_str(&text(rng))
        );
    }
    if rng.one_in(3) {
        body += &format!(
            ",\"warnings\":[{}],\"infos\":{}",
            json_str(&text(rng)),
            json_any(rng, 1)
        );
    }
    body += "}";
    body.into_bytes()
}

fn item(rng: &mut Rng) -> String {
    let labels = (0..rng.below(3))
        .map(|_| format!("{}:{}", json_str(&name(rng)), json_str(&text(rng))))
        .collect::<Vec<_>>()
        .join(",");
    if rng.one_in(2) {
        format!("{{\"metric\":{{{labels}}},\"value\":{}}}", json_pair(rng))
    } else {
        let values = (0..rng.below(4))
            .map(|_| json_pair(rng))
            .collect::<Vec<_>>()
            .join(",");
        format!("{{\"metric\":{{{labels}}},\"values\":[{values}]}}")
    }
}

fn run(input: &[u8]) -> String {
    let status = [200, 200, 400, 401, 404, 422, 503][input.len() % 7];
    match parse_envelope(input, status) {
        Ok(Answer::Points(p, w)) => format!("points {} {}", p.len().min(2), w.len().min(2)),
        Ok(Answer::QueryError(e)) => format!("query error {e}"),
        Ok(Answer::TooLarge(e)) => format!("too large {e}"),
        Err(e) => format!("err {e}"),
    }
}
