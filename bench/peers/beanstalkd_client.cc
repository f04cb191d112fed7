// beanstalkd over a raw TCP socket (its text protocol): "put <pri> <delay> <ttr> <bytes>" to
// publish (pipelined: replies come in command order), and, for a batch, that many
// "reserve-with-timeout 0" in one write, then as many "delete <id>" in one write; when nothing
// is ready, one blocking "reserve-with-timeout" waits. Scheduled messages: the put's delay
// (whole seconds). One tube per measurement.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench/peers/peer_client.h"
#include "bench/workload.h"

namespace tidemq::bench::peers {
namespace {

constexpr int kPriority = 1024;
constexpr int kTimeToRunS = 60;
constexpr size_t kReadChunk = 64 * 1024;

Status Errno(const std::string& what) {
  return Status(Code::kUnavailable, "beanstalkd " + what + ": " + std::strerror(errno));
}

// A blocking TCP connection with a read buffer, for a line protocol.
class Socket {
 public:
  static Result<std::unique_ptr<Socket>> Connect(const PeerOptions& o) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Errno("socket");
    auto socket = std::unique_ptr<Socket>(new Socket(fd));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(o.port);
    if (::inet_pton(AF_INET, o.host.c_str(), &addr.sin_addr) != 1) {
      return InvalidArgument("beanstalkd: not an IPv4 address: " + o.host);
    }
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return Errno("connect");
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return socket;
  }
  ~Socket() { ::close(fd_); }

  std::string& out() { return out_; }

  Status Flush() {
    size_t done = 0;
    while (done < out_.size()) {
      ssize_t n = ::send(fd_, out_.data() + done, out_.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Errno("send");
      done += static_cast<size_t>(n);
    }
    out_.clear();
    return Status::Ok();
  }

  // The next line without its "\r\n", reading as needed.
  Result<std::string> ReadLine() {
    while (true) {
      size_t eol = in_.find("\r\n", pos_);
      if (eol != std::string::npos) {
        std::string line = in_.substr(pos_, eol - pos_);
        pos_ = eol + 2;
        return line;
      }
      RETURN_IF_ERROR(Fill());
    }
  }

  // The next `n` bytes and the "\r\n" after them.
  Result<std::string_view> ReadBody(size_t n) {
    while (in_.size() - pos_ < n + 2) RETURN_IF_ERROR(Fill());
    std::string_view body(in_.data() + pos_, n);
    pos_ += n + 2;
    return body;
  }

  // Whether a complete line is already buffered.
  bool LineBuffered() const { return in_.find("\r\n", pos_) != std::string::npos; }

  Status Command(const std::string& command, const std::string& expected_prefix) {
    out_ += command;
    out_ += "\r\n";
    RETURN_IF_ERROR(Flush());
    ASSIGN_OR_RETURN(std::string reply, ReadLine());
    if (reply.rfind(expected_prefix, 0) != 0) {
      return Status(Code::kInternal, "beanstalkd " + command + ": " + reply);
    }
    return Status::Ok();
  }

 private:
  explicit Socket(int fd) : fd_(fd) {}

  Status Fill() {
    if (pos_ > 0) {  // keep the buffer from growing: drop what was read
      in_.erase(0, pos_);
      pos_ = 0;
    }
    size_t old = in_.size();
    in_.resize(old + kReadChunk);
    ssize_t n;
    do {
      n = ::recv(fd_, in_.data() + old, kReadChunk, 0);
    } while (n < 0 && errno == EINTR);
    in_.resize(old + static_cast<size_t>(std::max<ssize_t>(n, 0)));
    if (n < 0) return Errno("recv");
    if (n == 0) return Status(Code::kUnavailable, "beanstalkd closed the connection");
    return Status::Ok();
  }

  const int fd_;
  std::string out_;
  std::string in_;
  size_t pos_ = 0;  // in_ before pos_ is consumed
};

class BeanstalkPipe : public Pipe {
 public:
  BeanstalkPipe(std::unique_ptr<Socket> socket, int64_t delay_s)
      : socket_(std::move(socket)), delay_s_(delay_s) {}

  Status Send(std::string_view body) override {
    std::string& out = socket_->out();
    out += "put " + std::to_string(kPriority) + " " + std::to_string(delay_s_) + " " +
           std::to_string(kTimeToRunS) + " " + std::to_string(body.size()) + "\r\n";
    out.append(body);
    out += "\r\n";
    return Status::Ok();
  }

  Status Flush() override { return socket_->Flush(); }

  Result<uint32_t> WaitAcks() override {
    uint32_t n = 0;
    do {
      ASSIGN_OR_RETURN(std::string reply, socket_->ReadLine());
      if (reply.rfind("INSERTED ", 0) != 0) {
        return Status(Code::kInternal, "beanstalkd put: " + reply);
      }
      ++n;
    } while (socket_->LineBuffered());
    return n;
  }

 private:
  const std::unique_ptr<Socket> socket_;
  const int64_t delay_s_;
};

class BeanstalkDrain : public Drain {
 public:
  explicit BeanstalkDrain(std::unique_ptr<Socket> socket) : socket_(std::move(socket)) {}

  Result<uint32_t> Take(uint32_t max, int64_t wait_ms, std::vector<int64_t>* stamps,
                        int64_t* received_wall_ns) override {
    ids_.clear();
    std::string& out = socket_->out();
    for (uint32_t i = 0; i < max; ++i) out += "reserve-with-timeout 0\r\n";
    RETURN_IF_ERROR(socket_->Flush());
    for (uint32_t i = 0; i < max; ++i) RETURN_IF_ERROR(ReadReserved(stamps));
    if (ids_.empty()) {
      // Nothing ready: wait for the next job (whole seconds: at least 1).
      out +=
          "reserve-with-timeout " + std::to_string(std::max<int64_t>(1, wait_ms / 1000)) + "\r\n";
      RETURN_IF_ERROR(socket_->Flush());
      RETURN_IF_ERROR(ReadReserved(stamps));
    }
    *received_wall_ns = WallNanos();
    if (ids_.empty()) return 0u;
    for (const std::string& id : ids_) out += "delete " + id + "\r\n";
    RETURN_IF_ERROR(socket_->Flush());
    for (size_t i = 0; i < ids_.size(); ++i) {
      ASSIGN_OR_RETURN(std::string reply, socket_->ReadLine());
      if (reply != "DELETED") return Status(Code::kInternal, "beanstalkd delete: " + reply);
    }
    return static_cast<uint32_t>(ids_.size());
  }

 private:
  // One reserve's reply: "RESERVED <id> <bytes>" and the body, or TIMED_OUT.
  Status ReadReserved(std::vector<int64_t>* stamps) {
    ASSIGN_OR_RETURN(std::string reply, socket_->ReadLine());
    if (reply == "TIMED_OUT" || reply == "DEADLINE_SOON") return Status::Ok();
    if (reply.rfind("RESERVED ", 0) != 0) {
      return Status(Code::kInternal, "beanstalkd reserve: " + reply);
    }
    const size_t space = reply.find(' ', 9);
    if (space == std::string::npos) return Status(Code::kInternal, "beanstalkd: " + reply);
    ids_.push_back(reply.substr(9, space - 9));
    ASSIGN_OR_RETURN(std::string_view body, socket_->ReadBody(std::stoul(reply.substr(space + 1))));
    stamps->push_back(BodyStamp(body));
    return Status::Ok();
  }

  const std::unique_ptr<Socket> socket_;
  std::vector<std::string> ids_;  // reserved in this Take
};

class BeanstalkClient : public PeerClient {
 public:
  explicit BeanstalkClient(const PeerOptions& options) : options_(options) {}

  Status Prepare(bool) override { return Status::Ok(); }  // a tube exists once used

  Result<std::unique_ptr<Pipe>> OpenPipe(bool scheduled, int) override {
    if (scheduled && options_.delay_ms % 1000 != 0) {
      return InvalidArgument("beanstalkd delays are whole seconds: --delay-ms must be too");
    }
    ASSIGN_OR_RETURN(auto socket, Socket::Connect(options_));
    RETURN_IF_ERROR(socket->Command("use " + options_.name, "USING"));
    return std::unique_ptr<Pipe>(std::make_unique<BeanstalkPipe>(
        std::move(socket), scheduled ? options_.delay_ms / 1000 : 0));
  }

  Result<std::unique_ptr<Drain>> OpenDrain(bool) override {
    ASSIGN_OR_RETURN(auto socket, Socket::Connect(options_));
    RETURN_IF_ERROR(socket->Command("watch " + options_.name, "WATCHING"));
    RETURN_IF_ERROR(socket->Command("ignore default", "WATCHING"));
    return std::unique_ptr<Drain>(std::make_unique<BeanstalkDrain>(std::move(socket)));
  }

  std::string ScheduleMethod() const override { return "put-delay"; }

 private:
  const PeerOptions options_;
};

}  // namespace

std::unique_ptr<PeerClient> NewBeanstalkdClient(const PeerOptions& options) {
  return std::make_unique<BeanstalkClient>(options);
}

}  // namespace tidemq::bench::peers
