#include "common/tls/server_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cctype>

#include "absl/strings/str_cat.h"

namespace holdfast::tls {
namespace {

std::string OpenSslError() {
  const auto e = ERR_get_error();  // OpenSSL's unsigned long
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "*.example.net" covers exactly one label: "www.example.net", not "example.net" nor
// "a.b.example.net" (RFC 6125 section 6.4.3).
bool NameMatches(const std::string& pattern, const std::string& name) {
  if (pattern.size() > 2 && pattern[0] == '*' && pattern[1] == '.') {
    const std::string_view suffix = std::string_view(pattern).substr(1);
    if (name.size() <= suffix.size() || !std::string_view(name).ends_with(suffix)) return false;
    const std::string_view label = std::string_view(name).substr(0, name.size() - suffix.size());
    return label.find('.') == std::string_view::npos;
  }
  return pattern == name;
}

int OnServerName(SSL* ssl, int* /*alert*/, void* arg) {
  const auto* self = static_cast<const ServerTlsContext*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) return SSL_TLSEXT_ERR_OK;  // no SNI: the default certificate
  SSL_CTX* chosen = self->ForName(name);
  if (chosen != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, chosen);
  return SSL_TLSEXT_ERR_OK;
}

int OnAlpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
           unsigned int inlen, void* arg) {
  const auto* ours = static_cast<const std::string*>(arg);
  if (ours->empty()) return SSL_TLSEXT_ERR_NOACK;
  unsigned char* selected = nullptr;
  // Server preference: the first of our protocols that the client offers.
  if (SSL_select_next_proto(&selected, outlen, reinterpret_cast<const unsigned char*>(ours->data()),
                            static_cast<unsigned int>(ours->size()), in,
                            inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;  // RFC 7301 section 3.2: no_application_protocol
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

ServerTlsContext::~ServerTlsContext() {
  for (SSL_CTX* c : contexts_) SSL_CTX_free(c);
}

absl::StatusOr<std::shared_ptr<const ServerTlsContext>> ServerTlsContext::Create(
    const ServerTlsOptions& options) {
  if (options.certificates.empty()) return absl::InvalidArgumentError("no certificate");
  int min_version = TLS1_2_VERSION;
  if (options.min_version == "1.3") {
    min_version = TLS1_3_VERSION;
  } else if (options.min_version != "1.2") {
    return absl::InvalidArgumentError(
        absl::StrCat("min_version '", options.min_version, "' is not 1.2 or 1.3"));
  }
  std::shared_ptr<ServerTlsContext> self(new ServerTlsContext());
  for (const std::string& p : options.alpn) {
    if (p.empty() || p.size() > 255) return absl::InvalidArgumentError("bad ALPN protocol name");
    self->alpn_wire_.push_back(static_cast<char>(p.size()));
    self->alpn_wire_ += p;
  }
  for (const ServerCertificate& c : options.certificates) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == nullptr) return absl::InternalError(OpenSslError());
    self->contexts_.push_back(ctx);  // freed by the destructor from here on
    SSL_CTX_set_min_proto_version(ctx, min_version);
    SSL_CTX_set_options(
        ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);  // idle TLS connections hold no buffers
    if (SSL_CTX_use_certificate_chain_file(ctx, c.cert_path.c_str()) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("certificate '", c.cert_path, "': ", OpenSslError()));
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, c.key_path.c_str(), SSL_FILETYPE_PEM) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("key '", c.key_path, "': ", OpenSslError()));
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "key '", c.key_path, "' does not belong to certificate '", c.cert_path, "'"));
    }
    SSL_CTX_set_alpn_select_cb(ctx, OnAlpn, &self->alpn_wire_);
    // SSL_CTX_set_tlsext_servername_callback, without its C-style cast.
    SSL_CTX_callback_ctrl(ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB,
                          reinterpret_cast<void (*)()>(OnServerName));
    SSL_CTX_set_tlsext_servername_arg(ctx, self.get());
    std::vector<std::string> names;
    for (const std::string& n : c.sni) names.push_back(Lower(n));
    self->names_.push_back(std::move(names));
  }
  return std::shared_ptr<const ServerTlsContext>(std::move(self));
}

SSL_CTX* ServerTlsContext::ForName(std::string_view server_name) const {
  std::string name = Lower(server_name);
  if (!name.empty() && name.back() == '.') name.pop_back();
  for (size_t i = 0; i < names_.size(); ++i) {
    for (const std::string& n : names_[i]) {
      if (n == name) return contexts_[i];
    }
  }
  for (size_t i = 0; i < names_.size(); ++i) {
    for (const std::string& n : names_[i]) {
      if (NameMatches(n, name)) return contexts_[i];
    }
  }
  return contexts_.front();
}

}  // namespace holdfast::tls
