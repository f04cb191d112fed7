#include "console/auth.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

namespace tidemq::console {
namespace {

bool SameToken(std::string_view a, std::string_view b) {
  // Constant time in the contents: the length of a token is no secret.
  if (a.size() != b.size() || a.empty()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// "admin <token>\nread <token>\n"
Result<Tokens> ParseTokenFile(const std::string& path, const std::string& text) {
  Tokens t;
  std::istringstream in(text);
  std::string role, token;
  while (in >> role >> token) {
    if (role == "admin") t.admin = token;
    else if (role == "read") t.read = token;
  }
  if (t.admin.empty() || t.read.empty()) {
    return Status(Code::kCorruption, path + " does not hold an `admin` and a `read` token "
                                            "(fix or delete it: a new one is made at start)");
  }
  return t;
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAdmin: return "admin";
    case Role::kRead: return "read";
    case Role::kNone: break;
  }
  return "none";
}

std::string RandomToken() {
  std::random_device rd;  // getrandom(2) on Linux
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 8; ++i) {
    uint32_t v = rd();
    for (int j = 0; j < 8; ++j, v >>= 4) out.push_back(kHex[v & 0xf]);
  }
  return out;
}

Result<Tokens> LoadOrCreateTokens(const std::string& data_dir, const std::string& admin,
                                  const std::string& read, bool* created) {
  *created = false;
  const std::string path = data_dir + "/" + kTokenFileName;
  Tokens tokens;
  std::ifstream in(path);
  if (in) {
    std::stringstream text;
    text << in.rdbuf();
    ASSIGN_OR_RETURN(tokens, ParseTokenFile(path, text.str()));
  } else {
    tokens = Tokens{RandomToken(), RandomToken()};
    const std::string text = "admin " + tokens.admin + "\nread " + tokens.read + "\n";
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      return Status(Code::kIOError, "cannot create " + path + ": " + std::strerror(errno));
    }
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                    ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) return Status(Code::kIOError, "cannot write " + path + ": " + std::strerror(errno));
    *created = true;
  }
  if (!admin.empty()) tokens.admin = admin;
  if (!read.empty()) tokens.read = read;
  if (SameToken(tokens.admin, tokens.read)) {
    return InvalidArgument("the console's admin and read tokens must differ");
  }
  return tokens;
}

Role Sessions::RoleOf(std::string_view token) const {
  if (SameToken(token, tokens_.admin)) return Role::kAdmin;
  if (SameToken(token, tokens_.read)) return Role::kRead;
  return Role::kNone;
}

std::pair<std::string, Sessions::Session> Sessions::Open(Role role, int64_t now_ms) {
  Session s{role, RandomToken(), now_ms + kLifetimeMs};
  std::string id = RandomToken();
  MutexLock lock(mu_);
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    it = it->second.expires_ms <= now_ms ? sessions_.erase(it) : std::next(it);
  }
  if (sessions_.size() >= kMaxSessions) {
    auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](const auto& a, const auto& b) {
      return a.second.expires_ms < b.second.expires_ms;
    });
    sessions_.erase(oldest);
  }
  sessions_.emplace(id, s);
  return {std::move(id), std::move(s)};
}

std::optional<Sessions::Session> Sessions::Find(std::string_view id, int64_t now_ms) {
  MutexLock lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  if (it->second.expires_ms <= now_ms) {
    sessions_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

void Sessions::Close(std::string_view id) {
  MutexLock lock(mu_);
  auto it = sessions_.find(id);
  if (it != sessions_.end()) sessions_.erase(it);
}

}  // namespace tidemq::console
