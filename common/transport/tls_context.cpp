#include "transport/tls_context.hpp"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <stdexcept>

namespace dr::transport {
namespace ssl = boost::asio::ssl;

namespace {

constexpr auto kOptions = ssl::context::default_workarounds | ssl::context::no_sslv2 |
                          ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                          ssl::context::no_tlsv1_1 | ssl::context::no_compression;

std::vector<X509Handle> load_certificates(const std::string& path) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(path.c_str(), "r"), &BIO_free);
  if (!bio) throw std::runtime_error("cannot read CA file '" + path + "'");
  std::vector<X509Handle> certs;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certs.emplace_back(cert);
  }
  if (certs.empty()) throw std::runtime_error("no PEM certificate in CA file '" + path + "'");
  return certs;
}

std::string to_utf8(const ASN1_STRING* s) {
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, s);
  if (length < 0) return {};
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(length));
  OPENSSL_free(utf8);
  return out;
}

bool chain_contains(STACK_OF(X509) * chain, const std::vector<X509Handle>& cas) {
  if (chain == nullptr) return false;
  for (int i = 0; i < sk_X509_num(chain); ++i) {
    X509* cert = sk_X509_value(chain, i);
    for (const auto& ca : cas) {
      if (X509_cmp(cert, ca.get()) == 0) return true;
    }
  }
  return false;
}

void use_own_certificate(ssl::context& ctx, const std::string& cert_file,
                         const std::string& key_file) {
  // use_private_key_file also checks that the key belongs to the certificate.
  ctx.use_certificate_chain_file(cert_file);
  ctx.use_private_key_file(key_file, ssl::context::pem);
}

}  // namespace

std::unique_ptr<ServerTlsContext> make_server_context(const ServerTlsFiles& files) {
  auto out = std::make_unique<ServerTlsContext>();
  auto& ctx = out->ssl;
  ctx.set_options(kOptions);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  use_own_certificate(ctx, files.cert_file, files.key_file);

  out->peer_cas = load_certificates(files.peer_ca_file);
  ctx.load_verify_file(files.peer_ca_file);  // the deployment's own CAs, never the system store
  STACK_OF(X509_NAME)* acceptable = SSL_load_client_CA_file(files.peer_ca_file.c_str());
  if (!files.operator_ca_file.empty()) {
    out->operator_cas = load_certificates(files.operator_ca_file);
    if (files.operator_ca_file != files.peer_ca_file) {
      ctx.load_verify_file(files.operator_ca_file);
      if (acceptable != nullptr) {
        SSL_add_file_cert_subjects_to_stack(acceptable, files.operator_ca_file.c_str());
      }
    }
  }
  // Tells clients which CAs we accept (CertificateRequest), so a client holding several
  // certificates can pick the right one.
  if (acceptable != nullptr) SSL_CTX_set_client_CA_list(ctx.native_handle(), acceptable);
  ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  // Without a session id context OpenSSL refuses to resume sessions once client certificates are
  // verified ("session id context uninitialized"); any fixed value will do.
  static constexpr unsigned char kSessionContext[] = "drpair";
  SSL_CTX_set_session_id_context(ctx.native_handle(), kSessionContext, sizeof(kSessionContext) - 1);
  // No TLS 1.3 session tickets: none of the agents' clients resumes a session (the peer client
  // keeps its connections alive; the CLI makes a few calls per run), and issuing the default two
  // costs a third of the server's CPU per new connection (measured: 1.7 ms -> 1.1 ms per
  // mutual-TLS handshake).
  SSL_CTX_set_num_tickets(ctx.native_handle(), 0);
  return out;
}

ssl::context make_client_context(const ClientTlsFiles& files) {
  ssl::context ctx{ssl::context::tls_client};
  ctx.set_options(kOptions);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  if (!files.cert_file.empty()) use_own_certificate(ctx, files.cert_file, files.key_file);
  (void)load_certificates(files.ca_file);  // a clear message for a file with no certificate
  ctx.load_verify_file(files.ca_file);
  ctx.set_verify_mode(ssl::verify_peer);
  return ctx;
}

CertificateFacts inspect_peer(SSL* ssl, const std::vector<X509Handle>& peer_cas,
                              const std::vector<X509Handle>& operator_cas) {
  CertificateFacts facts;
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return facts;

  X509_NAME* subject = X509_get_subject_name(cert);
  const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index >= 0) {
    facts.common_name = to_utf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index)));
  }
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
      if (name->type == GEN_DNS) facts.dns_names.push_back(to_utf8(name->d.dNSName));
    }
    GENERAL_NAMES_free(sans);
  }
  // The chain OpenSSL verified, ending at the trust anchor it found in our CA files.
  STACK_OF(X509)* chain = SSL_get0_verified_chain(ssl);
  facts.from_peer_ca = chain_contains(chain, peer_cas);
  facts.from_operator_ca = chain_contains(chain, operator_cas);
  return facts;
}

}  // namespace dr::transport
