// Native encoding of the core's messages: a stored record as a wire::Message (receive,
// query, DLQ listings, check-backs), and a check-back as a CHECK_TXN request frame. Part of
// the native adapter; the broker's own bookkeeping properties (retry and DLQ copies, topic
// incarnations) are sent as typed fields or not at all. Threads: pure functions, any thread.
#pragma once

#include <string>

#include "broker/core/producer_channel.h"
#include "proto/frame.h"

namespace tidemq::broker {

// A stored record as a wire message (body not included: it travels as a frame body).
void ToWireMessage(const store::Record& record, wire::Message* out);
// A check-back as a complete CHECK_TXN request frame (the half's body as the frame body).
void EncodeCheckFrame(const TxnCheck& check, std::string* frame);

}  // namespace tidemq::broker
