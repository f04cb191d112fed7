// Who may use the console and the JSON admin API (docs/console.md, "Access").
//
// There is no default password. Two tokens: `admin` (everything) and `read` (GET only). Each
// is configured (--console-token, --console-read-token) or generated at the first start and
// kept in <data dir>/console.token (mode 0600), which the broker prints the path of.
//
// A caller proves a role in one of two ways:
// - `Authorization: Bearer <token>` on each request (curl, scripts). Browsers never add that
//   header to a cross-site request by themselves, so it needs no CSRF check.
// - a session: POST /api/v1/login with the token sets an HttpOnly, SameSite=Strict cookie and
//   returns a CSRF token; every request that changes something must carry that token in
//   X-CSRF-Token (the page keeps it in memory only).
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"

namespace tidemq::console {

enum class Role { kNone = 0, kRead = 1, kAdmin = 2 };
std::string_view RoleName(Role role);

struct Tokens {
  std::string admin;
  std::string read;
};

inline constexpr char kTokenFileName[] = "console.token";

// The tokens to use: configured ones win; the others come from <data_dir>/console.token,
// which is created (0600, fresh random tokens) when it does not exist. *created tells whether
// it was. A file that does not parse is an error (never silently replaced).
Result<Tokens> LoadOrCreateTokens(const std::string& data_dir, const std::string& admin,
                                  const std::string& read, bool* created);

// 32 random bytes as 64 hex digits.
std::string RandomToken();

class Sessions {
 public:
  struct Session {
    Role role = Role::kNone;
    std::string csrf;
    int64_t expires_ms = 0;
  };
  static constexpr int64_t kLifetimeMs = 12 * 3600 * 1000;
  static constexpr size_t kMaxSessions = 1024;  // the oldest goes first

  explicit Sessions(Tokens tokens) : tokens_(std::move(tokens)) {}

  // The role `token` grants (constant-time comparisons).
  Role RoleOf(std::string_view token) const;
  // A new session: its id (the cookie's value) and the session.
  std::pair<std::string, Session> Open(Role role, int64_t now_ms) EXCLUDES(mu_);
  std::optional<Session> Find(std::string_view id, int64_t now_ms) EXCLUDES(mu_);
  void Close(std::string_view id) EXCLUDES(mu_);

 private:
  const Tokens tokens_;
  Mutex mu_;
  std::map<std::string, Session, std::less<>> sessions_ GUARDED_BY(mu_);
};

}  // namespace tidemq::console
