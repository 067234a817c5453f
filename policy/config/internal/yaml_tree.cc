#include "policy/config/internal/yaml_tree.h"

#include <yaml.h>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace holdfast::policy::yaml {

Kind Node::kind() const { return tree_->nodes_[static_cast<size_t>(index_)].kind; }

absl::string_view Node::scalar() const {
  const Tree::NodeData& d = tree_->nodes_[static_cast<size_t>(index_)];
  if (d.kind != Kind::kScalar) return {};
  return absl::string_view(tree_->text_).substr(d.offset, d.count);
}

bool Node::quoted() const { return tree_->nodes_[static_cast<size_t>(index_)].quoted; }
int Node::line() const { return tree_->nodes_[static_cast<size_t>(index_)].line; }
int Node::column() const { return tree_->nodes_[static_cast<size_t>(index_)].column; }

int Node::size() const {
  const Tree::NodeData& d = tree_->nodes_[static_cast<size_t>(index_)];
  if (d.kind == Kind::kSequence) return static_cast<int>(d.count);
  if (d.kind == Kind::kMap) return static_cast<int>(d.count / 2);
  return 0;
}

Node Node::item(int i) const {
  const Tree::NodeData& d = tree_->nodes_[static_cast<size_t>(index_)];
  return Node(tree_, tree_->children_[d.offset + static_cast<uint32_t>(i)]);
}
Node Node::key(int i) const { return item(2 * i); }
Node Node::value(int i) const { return item(2 * i + 1); }

namespace {

// YAML's core schema spells null these ways (YAML 1.2, section 10.3.2).
bool IsNullScalar(absl::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

}  // namespace

std::unique_ptr<Tree> Parse(absl::string_view text) {
  auto tree = std::make_unique<Tree>();
  Tree& t = *tree;

  yaml_parser_t parser;
  yaml_parser_initialize(&parser);
  // libyaml asserts on a null input even when it is empty.
  static constexpr unsigned char kNothing[1] = {0};
  yaml_parser_set_input_string(
      &parser, text.empty() ? kNothing : reinterpret_cast<const unsigned char*>(text.data()),
      text.size());
  yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);

  // Containers being built: their node, and where their children start in `pending`.
  struct Frame {
    int32_t node;
    size_t first_child;
    std::string anchor;
  };
  std::vector<Frame> open;
  std::vector<int32_t> pending;
  int32_t root = -1;
  absl::flat_hash_map<std::string, int32_t> anchors;  // per document

  auto add_child = [&](int32_t node) {
    if (open.empty()) {
      root = node;
    } else {
      pending.push_back(node);
    }
  };
  auto new_node = [&](Kind kind, bool quoted, const yaml_mark_t& mark) {
    t.nodes_.push_back(Tree::NodeData{kind, quoted, static_cast<int32_t>(mark.line + 1),
                                      static_cast<int32_t>(mark.column + 1), 0, 0});
    return static_cast<int32_t>(t.nodes_.size() - 1);
  };
  auto anchor_name = [](const yaml_char_t* a) {
    return a == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(a));
  };
  auto fail = [&](std::string message, const yaml_mark_t& mark) {
    t.error_ = SyntaxError{std::move(message), static_cast<int>(mark.line + 1),
                           static_cast<int>(mark.column + 1)};
  };

  bool done = false;
  while (!done && !t.error_) {
    yaml_event_t event;
    if (yaml_parser_parse(&parser, &event) == 0) {
      std::string message = parser.problem != nullptr ? parser.problem : "invalid YAML";
      if (parser.context != nullptr) {
        absl::StrAppend(&message, " (", parser.context, " at line ", parser.context_mark.line + 1,
                        ")");
      }
      fail(std::move(message), parser.problem_mark);
      break;
    }
    switch (event.type) {
      case YAML_STREAM_END_EVENT:
        done = true;
        break;
      case YAML_DOCUMENT_START_EVENT:
        root = -1;
        anchors.clear();
        break;
      case YAML_DOCUMENT_END_EVENT:
        if (root >= 0 && t.nodes_[static_cast<size_t>(root)].kind != Kind::kNull) {
          t.documents_.emplace_back(&t, root);
        }
        break;
      case YAML_ALIAS_EVENT: {
        // Anchors are registered when their node is complete, so an alias inside the node it
        // names is unknown here: no cycles.
        auto it = anchors.find(anchor_name(event.data.alias.anchor));
        if (it == anchors.end()) {
          fail(absl::StrCat("unknown anchor '", anchor_name(event.data.alias.anchor),
                            "' (an alias must follow its anchored node, outside it)"),
               event.start_mark);
          break;
        }
        add_child(it->second);
        break;
      }
      case YAML_SCALAR_EVENT: {
        const auto& s = event.data.scalar;
        const absl::string_view value(reinterpret_cast<const char*>(s.value), s.length);
        const bool plain = s.style == YAML_PLAIN_SCALAR_STYLE;
        const bool tagged_str =
            s.tag != nullptr &&
            absl::string_view(reinterpret_cast<const char*>(s.tag)) == YAML_STR_TAG;
        const bool null = plain && !tagged_str && IsNullScalar(value);
        const int32_t node =
            new_node(null ? Kind::kNull : Kind::kScalar, !plain || tagged_str, event.start_mark);
        t.nodes_.back().offset = static_cast<uint32_t>(t.text_.size());
        t.nodes_.back().count = static_cast<uint32_t>(value.size());
        t.text_.append(value.data(), value.size());
        if (s.anchor != nullptr) anchors[anchor_name(s.anchor)] = node;
        add_child(node);
        break;
      }
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT: {
        const bool map = event.type == YAML_MAPPING_START_EVENT;
        const int32_t node = new_node(map ? Kind::kMap : Kind::kSequence, false, event.start_mark);
        open.push_back(Frame{
            node, pending.size(),
            anchor_name(map ? event.data.mapping_start.anchor : event.data.sequence_start.anchor)});
        break;
      }
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT: {
        Frame f = std::move(open.back());
        open.pop_back();
        Tree::NodeData& d = t.nodes_[static_cast<size_t>(f.node)];
        d.offset = static_cast<uint32_t>(t.children_.size());
        d.count = static_cast<uint32_t>(pending.size() - f.first_child);
        t.children_.insert(t.children_.end(),
                           pending.begin() + static_cast<ptrdiff_t>(f.first_child), pending.end());
        pending.resize(f.first_child);
        if (!f.anchor.empty()) anchors[f.anchor] = f.node;
        add_child(f.node);
        break;
      }
      default:  // stream start, no data
        break;
    }
    yaml_event_delete(&event);
  }
  yaml_parser_delete(&parser);
  return tree;
}

}  // namespace holdfast::policy::yaml
