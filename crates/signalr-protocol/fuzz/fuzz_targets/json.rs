#![no_main]

use libfuzzer_sys::fuzz_target;
use signalr_protocol::HubProtocol;

fuzz_target!(|data: &[u8]| {
    signalr_protocol_fuzz::check_protocol(HubProtocol::Json, data);
});
