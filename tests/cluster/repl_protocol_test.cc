#include "cluster/repl_protocol.h"

#include <gtest/gtest.h>

namespace tidemq::cluster {
namespace {

TEST(ReplProtocolTest, FramesRoundTrip) {
  Hello h;
  h.group = "g";
  h.replica_id = "b2";
  h.epochs = {{1, LogOffset(0)}, {4, LogOffset(900)}};
  h.log_end = LogOffset(1234);
  std::string frame = EncodeHello(h);
  ASSERT_EQ(*FrameSize(frame), frame.size());
  auto f = DecodeFrame(frame);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ(f->kind, ReplKind::kHello);
  Hello back;
  ASSERT_TRUE(DecodeHello(f->payload, &back).ok());
  EXPECT_EQ(back.group, "g");
  EXPECT_EQ(back.replica_id, "b2");
  EXPECT_EQ(back.epochs, h.epochs);
  EXPECT_EQ(back.log_end, LogOffset(1234));

  Chunk c;
  c.epoch = 7;
  c.from = LogOffset(4096);
  c.segment_base = LogOffset(4096);
  c.master_end = LogOffset(9000);
  c.commit_end = LogOffset(8000);
  c.bytes = std::string(3000, 'r');
  frame = EncodeChunk(c);
  f = DecodeFrame(frame);
  ASSERT_TRUE(f.ok());
  Chunk cb;
  ASSERT_TRUE(DecodeChunk(f->payload, &cb).ok());
  EXPECT_EQ(cb.bytes, c.bytes);
  EXPECT_EQ(cb.commit_end, LogOffset(8000));

  ReplError e{Code::kNotMaster, "not me"};
  frame = EncodeError(e);  // the decoded frame views these bytes: keep them
  f = DecodeFrame(frame);
  ReplError eb;
  ASSERT_TRUE(DecodeError(f->payload, &eb).ok());
  EXPECT_EQ(eb.code, Code::kNotMaster);
  EXPECT_EQ(eb.message, "not me");
}

TEST(ReplProtocolTest, BadFramesAreTypedErrors) {
  std::string frame = EncodeFetch(Fetch{LogOffset(10), LogOffset(10), 100, 100});
  EXPECT_EQ(*FrameSize(frame.substr(0, 3)), 0u);  // header incomplete: wait for more
  std::string flipped = frame;
  flipped.back() ^= 1;
  EXPECT_EQ(DecodeFrame(flipped).status().code(), Code::kCorruption);
  EXPECT_EQ(DecodeFrame(frame.substr(0, frame.size() - 1)).status().code(), Code::kCorruption);
  std::string huge = frame;
  huge[3] = '\x7f';
  EXPECT_EQ(FrameSize(huge).status().code(), Code::kTooLarge);
  std::string tiny("\x02\x00\x00\x00", 4);
  EXPECT_EQ(FrameSize(tiny).status().code(), Code::kCorruption);
  Fetch f;
  EXPECT_EQ(DecodeFetch("short", &f).code(), Code::kCorruption);
  Hello h;
  Hello bad;
  bad.epochs = {{3, LogOffset(10)}, {2, LogOffset(20)}};  // out of order
  const std::string bad_frame = EncodeHello(bad);
  auto decoded = DecodeFrame(bad_frame);
  EXPECT_EQ(DecodeHello(decoded->payload, &h).code(), Code::kCorruption);
}

TEST(ReplProtocolTest, DivergencePoint) {
  const LogOffset none = kNoLogOffset;
  using E = std::vector<EpochStart>;
  // A prefix of the master's log, in the same epoch or an older one: nothing to cut.
  EXPECT_EQ(DivergencePoint(E{{1, LogOffset(0)}}, LogOffset(500), E{{1, LogOffset(0)}},
                            LogOffset(300)),
            none);
  EXPECT_EQ(DivergencePoint(E{{1, LogOffset(0)}, {2, LogOffset(400)}}, LogOffset(900),
                            E{{1, LogOffset(0)}}, LogOffset(350)),
            none);
  // The replica wrote on in epoch 1 past where the master's epoch 2 began.
  EXPECT_EQ(DivergencePoint(E{{1, LogOffset(0)}, {2, LogOffset(400)}}, LogOffset(900),
                            E{{1, LogOffset(0)}}, LogOffset(450)),
            LogOffset(400));
  // The replica was master in an epoch the master never knew.
  EXPECT_EQ(DivergencePoint(E{{1, LogOffset(0)}, {3, LogOffset(400)}}, LogOffset(900),
                            E{{1, LogOffset(0)}, {2, LogOffset(380)}}, LogOffset(700)),
            LogOffset(380));
  // A replica ahead of the master in the same epoch (the master lost an unflushed tail).
  EXPECT_EQ(DivergencePoint(E{{1, LogOffset(0)}}, LogOffset(500), E{{1, LogOffset(0)}},
                            LogOffset(600)),
            LogOffset(500));
  // No epoch in common: an empty replica needs nothing, one with epochs starts over.
  EXPECT_EQ(DivergencePoint(E{{5, LogOffset(0)}}, LogOffset(500), E{}, LogOffset(0)), none);
  EXPECT_EQ(DivergencePoint(E{{5, LogOffset(0)}}, LogOffset(500), E{{4, LogOffset(0)}},
                            LogOffset(100)),
            LogOffset(0));
  // A replica with no epochs holds a prefix of what came before the group's first epoch.
  EXPECT_EQ(DivergencePoint(E{{1, LogOffset(700)}}, LogOffset(900), E{}, LogOffset(500)), none);
  EXPECT_EQ(DivergencePoint(E{{1, LogOffset(700)}}, LogOffset(900), E{}, LogOffset(800)),
            LogOffset(700));
}

}  // namespace
}  // namespace tidemq::cluster
