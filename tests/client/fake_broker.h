// A scripted broker for client tests: listens on 127.0.0.1 (ephemeral port), and lets the
// test thread accept, read frames, answer them in any order, send its own requests, and
// drop the connection. Everything is blocking and driven by the test, so no sleeps.
//
// Every client asks QUERY_ROUTE first (client/src/cluster_client.h): reading frames answers
// those as a standalone broker does (not clustered), so scripts see only their own requests.
// A cluster of groups is scripted with tests/client/fake_cluster.h instead.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <string>
#include <string_view>

#include "proto/frame.h"

namespace tidemq::client::testing {

class FakeBroker {
 public:
  FakeBroker()
      : acceptor_(io_, boost::asio::ip::tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0)),
        socket_(io_) {}

  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port()); }

  // Blocks until a client connects (replacing any earlier connection).
  void Accept() {
    boost::system::error_code ignored;
    socket_.close(ignored);
    socket_ = acceptor_.accept();
  }

  // The next frame from the client; heartbeats (timing-dependent) are skipped.
  wire::Frame ReadFrame() {
    while (true) {
      wire::Frame f = ReadAnyFrame();
      if (f.header.kind() != wire::HEARTBEAT || f.header.is_response()) return f;
    }
  }

  // The next frame but a route query (answered); heartbeats included.
  wire::Frame ReadAnyFrame() {
    while (true) {
      wire::Frame f = ReadRawFrame();
      if (f.header.kind() != wire::QUERY_ROUTE || f.header.is_response()) return f;
      wire::Header standalone;
      standalone.mutable_query_route_response()->set_clustered(false);
      Respond(f, standalone);
    }
  }

  // The next frame, whatever it is.
  wire::Frame ReadRawFrame() {
    std::string prefix(wire::kPrefixSize, '\0');
    boost::asio::read(socket_, boost::asio::buffer(prefix));
    wire::FramePrefix p;
    Status st = wire::ParsePrefix(prefix, wire::kDefaultMaxFrameBytes, &p);
    EXPECT_TRUE(st.ok()) << st.ToString();
    std::string rest(p.remaining(), '\0');
    boost::asio::read(socket_, boost::asio::buffer(rest));
    wire::Frame f;
    st = wire::ParseRest(p, rest, &f);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return f;
  }

  void WriteFrame(const wire::Header& h, std::string_view body = {}) {
    std::string out;
    wire::EncodeFrame(h, body, &out);
    boost::asio::write(socket_, boost::asio::buffer(out));
  }

  // Answers `request` with `response` (payload and code as the test set them).
  void Respond(const wire::Frame& request, wire::Header response, std::string_view body = {}) {
    response.set_request_id(request.header.request_id());
    response.set_kind(request.header.kind());
    response.set_is_response(true);
    WriteFrame(response, body);
  }

  void CloseConnection() {
    boost::system::error_code ignored;
    socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::ip::tcp::socket socket_;
};

}  // namespace tidemq::client::testing
