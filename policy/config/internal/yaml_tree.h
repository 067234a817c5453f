// A YAML document tree built from libyaml's events: just what the config loader needs (maps,
// lists, scalars with their style, positions), stored flat so that building and freeing a
// large config costs little. Anchors and aliases share nodes; an alias may only name a node
// that is complete, so a tree never contains a cycle.
//
// Internal to policy/config: the loader is its only user.
#ifndef HOLDFAST_POLICY_CONFIG_INTERNAL_YAML_TREE_H_
#define HOLDFAST_POLICY_CONFIG_INTERNAL_YAML_TREE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace holdfast::policy::yaml {

class Tree;

enum class Kind : uint8_t { kNull, kScalar, kSequence, kMap };

// A node of a Tree, valid while the tree lives. Cheap to copy.
class Node {
 public:
  Node() = default;
  Node(const Tree* tree, int32_t index) : tree_(tree), index_(index) {}

  Kind kind() const;
  bool IsNull() const { return kind() == Kind::kNull; }
  bool IsScalar() const { return kind() == Kind::kScalar; }
  bool IsSequence() const { return kind() == Kind::kSequence; }
  bool IsMap() const { return kind() == Kind::kMap; }

  // The text of a scalar (empty for other kinds).
  absl::string_view scalar() const;
  // A scalar written in quotes or as a block (not plain), or tagged !!str: a string for sure.
  bool quoted() const;
  // Where the node starts, 1-based.
  int line() const;
  int column() const;

  // Items of a sequence, or keys and values of a map (key, value, key, value, ...).
  int size() const;  // items, or key-value pairs
  Node item(int i) const;
  Node key(int i) const;
  Node value(int i) const;

 private:
  const Tree* tree_ = nullptr;
  int32_t index_ = -1;
};

struct SyntaxError {
  std::string message;
  int line = 1;
  int column = 1;
};

// The documents of one YAML stream. Empty documents (nothing, or only a null) are skipped.
class Tree {
 public:
  const std::vector<Node>& documents() const { return documents_; }
  // Set when the stream is not valid YAML; the documents before the error are kept.
  const std::optional<SyntaxError>& error() const { return error_; }

 private:
  friend class Node;
  friend std::unique_ptr<Tree> Parse(absl::string_view text);

  struct NodeData {
    Kind kind;
    bool quoted;
    int32_t line;
    int32_t column;
    // Scalar: offset and length in text_. Sequence and map: offset and count in children_.
    uint32_t offset;
    uint32_t count;
  };
  std::vector<NodeData> nodes_;
  std::vector<int32_t> children_;
  std::string text_;
  std::vector<Node> documents_;
  std::optional<SyntaxError> error_;
};

// Parses `text` (UTF-8). Never throws; a syntax error is reported in the result. The tree is
// on the heap because its nodes point at it.
std::unique_ptr<Tree> Parse(absl::string_view text);

}  // namespace holdfast::policy::yaml

#endif  // HOLDFAST_POLICY_CONFIG_INTERNAL_YAML_TREE_H_
