// Findings: what the config loader and validator report, each at a place in a file, with a
// stable code. The table of codes below is the one source of truth; docs/findings.md documents
// it, and a test keeps the two in step.
#ifndef HOLDFAST_POLICY_FINDING_H_
#define HOLDFAST_POLICY_FINDING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace holdfast::policy {

enum class Severity : uint8_t { kError, kWarning };

// X(Enumerator, "HFnnnn", severity, "one-line summary")
// Codes are stable: never renumber or reuse one; retire a code by leaving it in the docs.
#define HF_FINDING_CODES(X)                                                                 \
  /* Reading and parsing files (loader). */                                                 \
  X(kFileUnreadable, "HF1001", kError, "a config file cannot be read")                      \
  X(kYamlSyntax, "HF1002", kError, "YAML syntax error")                                     \
  X(kEmptyFile, "HF1003", kError, "a config file holds no document")                        \
  X(kNotText, "HF1004", kError, "a config file is not UTF-8 text")                          \
  X(kUnknownKey, "HF1005", kError, "a key the schema does not have")                        \
  X(kWrongType, "HF1006", kError, "a value of the wrong YAML type (map, list, scalar)")     \
  X(kMissingKey, "HF1007", kError, "a required key is absent")                              \
  X(kBadValue, "HF1008", kError, "a scalar that does not parse as its field's type")        \
  X(kDuplicateKey, "HF1009", kError, "the same key twice in one map")                       \
  X(kIncludeError, "HF1010", kError, "an include that cannot be followed")                  \
  X(kConflictingFiles, "HF1011", kError, "the same single value set in two files")          \
  X(kTooLarge, "HF1012", kError, "a config beyond the loader's limits")                     \
  /* Meaning (validator). */                                                                \
  X(kDuplicateName, "HF2001", kError, "a name used twice where names must be unique")       \
  X(kUnresolvedReference, "HF2002", kError, "a reference to something that does not exist") \
  X(kBadAddress, "HF2003", kError, "a malformed IP address")                                \
  X(kBadPort, "HF2004", kError, "a port outside 1..65535")                                  \
  X(kBadPrefix, "HF2005", kError, "a malformed prefix, or one with host bits set")          \
  X(kVipOutsidePrefix, "HF2006", kError, "a VIP outside the prefix it is announced with")   \
  X(kListenerConflict, "HF2007", kError, "two listeners on one address and port")           \
  X(kPrefixConflict, "HF2008", kError, "one prefix serving two services without `shared`")  \
  X(kHealthCheck, "HF2009", kError, "health-check timing or thresholds that cannot work")   \
  X(kMissingElement, "HF2010", kError, "a list that needs at least one entry is empty")     \
  X(kConflictingFields, "HF2011", kError, "fields that do not go together")                 \
  X(kOutOfRange, "HF2012", kError, "a number outside its allowed range")                    \
  X(kBadDnsName, "HF2013", kError, "a malformed domain name, or one outside its zone")      \
  X(kBadRecord, "HF2014", kError, "DNS record data that does not fit its type")             \
  X(kBadCommunity, "HF2015", kError, "a malformed BGP community")                           \
  X(kBadRouteMatch, "HF2016", kError, "a route match that can never match")                 \
  /* Files the config names (skipped by --no-files). */                                     \
  X(kTlsUnreadable, "HF3001", kError, "a certificate or key file cannot be read")           \
  X(kTlsParse, "HF3002", kError, "a certificate or key file does not parse")                \
  X(kTlsKeyMismatch, "HF3003", kError, "a key that does not belong to its certificate")     \
  X(kTlsExpired, "HF3004", kError, "a certificate expired or not yet valid")                \
  X(kTlsExpiring, "HF3005", kWarning, "a certificate that expires within 30 days")          \
  X(kTlsNameMismatch, "HF3006", kWarning, "an SNI name the certificate does not cover")     \
  /* Safety. */                                                                             \
  X(kFloorUnsatisfiable, "HF4001", kError, "a floor higher than the POPs that can meet it") \
  X(kFloorZero, "HF4002", kError, "a floor of zero without allow_zero")                     \
  /* Probably a mistake (warnings). */                                                      \
  X(kPrefixUnannounced, "HF5001", kWarning, "a prefix no POP announces")                    \
  X(kUnusedPop, "HF5002", kWarning, "a POP nothing refers to")                              \
  X(kUnusedCluster, "HF5003", kWarning, "a cluster nothing refers to")                      \
  X(kSingleRegion, "HF5004", kWarning, "a service name announced in only one region")       \
  /* What-if simulation (holdfastctl validate --what-if). */                                \
  X(kWhatIfFloor, "HF6001", kError, "a failure scenario in which a floor is not kept")      \
  X(kWhatIfRegion, "HF6002", kWarning, "the loss of one region takes a floor with it")

enum class Code : uint16_t {
#define HF_FINDING_ENUM_(name, id, severity, summary) name,
  HF_FINDING_CODES(HF_FINDING_ENUM_)
#undef HF_FINDING_ENUM_
};

struct CodeInfo {
  Code code;
  absl::string_view id;  // "HF1001"
  Severity severity;
  absl::string_view summary;
};

// Every code, in table order.
const std::vector<CodeInfo>& AllCodes();
const CodeInfo& Info(Code code);

// A place in a config file; line and column are 1-based.
struct SourceLocation {
  std::string file;
  int line = 1;
  int column = 1;
};

struct Finding {
  SourceLocation where;
  Severity severity = Severity::kError;
  Code code = Code::kFileUnreadable;
  // "listeners[1].tls.cert: not readable": the config path first where there is one.
  std::string message;
  // The config value the finding is about ("listeners[1].tls.cert"); empty for a whole file.
  std::string path;
};

absl::string_view SeverityName(Severity s);  // "error" / "warning"
bool HasErrors(const std::vector<Finding>& findings);
// The errors among `findings` in one line, for a refusal's message (a NACK, an apply the control
// plane refuses, a log line): "the config does not validate (2 errors): FILE:L:C: MESSAGE [CODE];
// FILE:L:C: ...", at most `max` of them.
std::string SummarizeErrors(const std::vector<Finding>& findings, int max = 5);

}  // namespace holdfast::policy

#endif  // HOLDFAST_POLICY_FINDING_H_
