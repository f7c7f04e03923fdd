"""signalrcore 1.0.2 (sync API, JSON) against the interop server, over WebSockets, Server-Sent
Events and Long Polling (the `transport` fixture parametrizes every test that connects).

signalrcore never sends negotiateVersion, so these connections use negotiate version 0 and put the
connectionId into `id=`; they also send a handshake with version 0. Its long polling POSTs that
handshake before its first poll, which the server must accept (ASP.NET Core does).

Two signalrcore 1.0.2 long-polling bugs (not the server's; see the skip reasons):
- its poll loop hands only the first message of each poll response to the hub, keeping the rest
  until another response arrives, while a server answers a poll with every waiting message
  (ASP.NET Core too), so bursts stall;
- its polls carry no Authorization header (only negotiate and the POSTs do), so on a hub that
  requires a token the polls are refused with 401 and it retries them in a busy loop.
"""

import json
import threading
import urllib.error
import urllib.request

import pytest
from conftest import TRANSPORTS
from signalrcore.hub_connection_builder import HubConnectionBuilder

WAIT_S = 10


def test_negotiate_without_version_is_v0(server):
    request = urllib.request.Request(
        server.url("/hub/negotiate"),
        method="POST",
        data=b"",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=WAIT_S) as response:
        assert response.status == 200
        body = json.loads(response.read().decode("utf-8"))
    assert body["negotiateVersion"] == 0
    assert isinstance(body["connectionId"], str) and body["connectionId"]
    assert "connectionToken" not in body
    assert body["availableTransports"][0] == {
        "transport": "WebSockets",
        "transferFormats": ["Text", "Binary"],
    }


def test_connect_and_echo(connect):
    conn = connect()
    completion = conn.invoke("Echo", ["hello from python"])
    assert completion.error is None
    assert completion.result == "hello from python"


def test_add_and_non_ascii(connect):
    conn = connect()
    assert conn.invoke("Add", [40, 2]).result == 42
    text = "héllo ✓ 日本"
    assert conn.invoke("Echo", [text]).result == text


def test_echo_value_round_trips_json(connect):
    conn = connect()
    value = {"list": [1, "two", None, True], "nested": {"x": 1.5}}
    assert conn.invoke("EchoValue", [value]).result == value


def test_connection_id_is_the_negotiated_id(connect):
    conn = connect()
    connection_id = conn.invoke("GetConnectionId", []).result
    assert isinstance(connection_id, str) and connection_id
    # Version 0: the id signalrcore put into `id=` is the public connection id.
    assert connection_id == conn.hub.transport.connection_id


def test_group_message(connect):
    received = []
    got = threading.Event()

    def on_group_message(arguments):
        received.append(arguments)
        got.set()

    member = connect(handlers={"GroupMessage": on_group_message})
    sender = connect()
    assert member.invoke("JoinGroup", ["py-room"]).error is None
    assert sender.invoke("SendToGroup", ["py-room", "hi group"]).error is None
    assert got.wait(WAIT_S), "GroupMessage did not arrive"
    assert received == [["py-room", "hi group"]]


LP_BATCHES = (
    "the poll loop handles only the first message of each poll response (LongPollingBaseClient._append)"
)
LP_NO_TOKEN = "polls are sent without the Authorization header, so /authhub refuses them (401)"


@pytest.mark.client_bug("LongPolling", reason=LP_BATCHES)
def test_send_many_arrives_in_order(connect):
    numbers = []
    done = threading.Event()

    def on_numbered(arguments):
        numbers.append(arguments[0])
        if len(numbers) == 20:
            done.set()

    conn = connect(handlers={"Numbered": on_numbered})
    assert conn.invoke("SendMany", [20]).result == 20
    assert done.wait(WAIT_S), f"only {len(numbers)} Numbered calls arrived"
    assert numbers == list(range(20))


def test_throw_is_an_error_completion(connect):
    conn = connect()
    completion = conn.invoke("Throw", ["python boom"])
    # A hub error's message reaches the caller verbatim.
    assert completion.error == "python boom"
    # The connection stays usable.
    assert conn.invoke("Echo", ["after error"]).result == "after error"


def test_unknown_method_is_an_error_completion(connect):
    conn = connect()
    completion = conn.invoke("NoSuchMethod", [])
    assert completion.error == "Unknown hub method 'NoSuchMethod'"
    assert conn.invoke("Echo", ["still open"]).result == "still open"


@pytest.mark.client_bug("LongPolling", reason=LP_NO_TOKEN)
def test_authhub_with_access_token_factory(connect):
    conn = connect(hub="/authhub", token="user:alice")
    completion = conn.invoke("GetUser", [])
    assert completion.error is None
    assert completion.result == "alice"


def test_authhub_without_token_is_401(server, transport):
    hub = (
        HubConnectionBuilder()
        .with_url(server.url("/authhub"), options={"transport": TRANSPORTS[transport]})
        .build()
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        hub.start()
    assert raised.value.code == 401


@pytest.mark.client_bug("LongPolling", reason=LP_NO_TOKEN)
def test_send_to_user_reaches_only_that_user(connect):
    got = threading.Event()
    alice_messages = []
    bob_messages = []

    def on_alice(arguments):
        alice_messages.append(arguments)
        got.set()

    connect(hub="/authhub", token="user:alice", handlers={"UserMessage": on_alice})
    bob = connect(hub="/authhub", token="user:bob", handlers={"UserMessage": bob_messages.append})
    assert bob.invoke("SendToUser", ["alice", "for alice"]).error is None
    assert got.wait(WAIT_S), "UserMessage did not reach alice"
    assert alice_messages == [["for alice"]]
    # bob's own next completion comes after anything the server sent him before it.
    assert bob.invoke("Echo", ["sync"]).result == "sync"
    assert bob_messages == []
