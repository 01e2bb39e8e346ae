//! The gateway as a `graphql-transport-ws` client of a subgraph: one socket per client
//! subscription, opened with the caller's identity in `connection_init`, yielding each `next`
//! payload. Dropping the stream (client `complete` or disconnect) closes the socket, which ends
//! the subscription at the subgraph.

use std::time::Duration;

use futures::stream::{self, BoxStream};
use futures::{SinkExt, StreamExt};
use serde_json::{Map, Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// How long the subgraph may take to connect and acknowledge `connection_init`.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const SUBSCRIPTION_ID: &str = "1";

/// One item per subgraph event: its `{data, errors}` payload, or why the subscription broke.
pub type Events = BoxStream<'static, Result<Value, String>>;

/// Opens `operation` on the subgraph at `http_url` (its `ws` twin, same path).
pub async fn subscribe(
    http_url: &str,
    operation: &str,
    variables: Map<String, Value>,
    authorization: Option<String>,
) -> Result<Events, String> {
    let url = http_url.replacen("http", "ws", 1);
    let handshake = async {
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| e.to_string())?;
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws"
                .parse()
                .expect("a valid header value"),
        );
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| format!("connecting: {e}"))?;
        let payload = match &authorization {
            Some(value) => json!({ "Authorization": value }),
            None => json!({}),
        };
        send(
            &mut socket,
            json!({ "type": "connection_init", "payload": payload }),
        )
        .await?;
        loop {
            match next_json(&mut socket).await? {
                Some(message) if message["type"] == "connection_ack" => break,
                Some(message) if message["type"] == "ping" => {
                    send(&mut socket, json!({ "type": "pong" })).await?
                }
                Some(_) => continue,
                None => return Err("the subgraph refused the connection".to_owned()),
            }
        }
        let subscribe = json!({
            "id": SUBSCRIPTION_ID,
            "type": "subscribe",
            "payload": { "query": operation, "variables": variables },
        });
        send(&mut socket, subscribe).await?;
        Ok::<_, String>(socket)
    };
    let socket = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
        .await
        .map_err(|_| "the subgraph did not acknowledge the subscription in time".to_owned())??;
    Ok(stream::unfold(Some(socket), |socket| async move {
        let mut socket = socket?;
        loop {
            let message = match next_json(&mut socket).await {
                Ok(Some(message)) => message,
                Ok(None) => {
                    return Some((Err("the subgraph closed the subscription".into()), None));
                }
                Err(err) => return Some((Err(err), None)),
            };
            match message["type"].as_str() {
                Some("next") => return Some((Ok(message["payload"].clone()), Some(socket))),
                Some("error") => {
                    let payload = json!({ "errors": message["payload"] });
                    return Some((Ok(payload), None));
                }
                Some("complete") => return None,
                Some("ping") => {
                    if let Err(err) = send(&mut socket, json!({ "type": "pong" })).await {
                        return Some((Err(err), None));
                    }
                }
                _ => {}
            }
        }
    })
    .boxed())
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn send(socket: &mut Socket, message: Value) -> Result<(), String> {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .map_err(|e| format!("sending: {e}"))
}

/// The next JSON text message; `None` when the socket closes.
async fn next_json(socket: &mut Socket) -> Result<Option<Value>, String> {
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(&text)
                    .map(Some)
                    .map_err(|_| "the subgraph sent a message that is not JSON".to_owned());
            }
            Some(Ok(Message::Close(_))) | None => return Ok(None),
            Some(Ok(_)) => continue,
            Some(Err(err)) => return Err(format!("reading: {err}")),
        }
    }
}
