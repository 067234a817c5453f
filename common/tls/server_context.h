// TLS server contexts for a listener: one OpenSSL context per certificate, the one used for a
// connection chosen by the client's SNI (exact name, then a "*.example.net" wildcard covering
// one label, then the first certificate), TLS 1.2 or 1.3 at least as configured, and ALPN from
// the listener's list in its order of preference. Built once per config snapshot; immutable and
// safe to share between threads afterwards (OpenSSL contexts are, once configured).
#ifndef HOLDFAST_COMMON_TLS_SERVER_CONTEXT_H_
#define HOLDFAST_COMMON_TLS_SERVER_CONTEXT_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace holdfast::tls {

struct ServerCertificate {
  // SNI names it serves; "*.example.net" matches one label.
  std::vector<std::string> sni;
  // PEM files, already resolved against the config file that names them.
  std::string cert_path;
  std::string key_path;
};

struct ServerTlsOptions {
  // At least one; the first is the default.
  std::vector<ServerCertificate> certificates;
  // "1.2" or "1.3".
  std::string min_version = "1.2";
  // Offered in order of preference; empty accepts a connection without ALPN.
  std::vector<std::string> alpn;
};

class ServerTlsContext {
 public:
  // Loads every certificate and key. InvalidArgument naming the file when one cannot be
  // loaded or a key does not match its certificate.
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<const ServerTlsContext>> Create(
      const ServerTlsOptions& options);
  ~ServerTlsContext();
  ServerTlsContext(const ServerTlsContext&) = delete;
  ServerTlsContext& operator=(const ServerTlsContext&) = delete;

  // The context a new connection starts with (the default certificate). SNI switches the
  // connection to the matching certificate's context during the handshake.
  SSL_CTX* initial() const { return contexts_.front(); }
  // The context for a server name, as the SNI callback picks it.
  SSL_CTX* ForName(std::string_view server_name) const;

 private:
  ServerTlsContext() = default;

  std::vector<SSL_CTX*> contexts_;  // owned; by certificate index
  std::vector<std::vector<std::string>> names_;
  std::string alpn_wire_;  // ALPN list in wire format
};

}  // namespace holdfast::tls

#endif  // HOLDFAST_COMMON_TLS_SERVER_CONTEXT_H_
