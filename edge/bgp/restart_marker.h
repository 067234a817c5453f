// Whether this node's BGP speaker starts after an unclean end: RFC 4724 section 4.1's
// "restarting" speaker, whose OPEN sets the Restart State (R) bit.
//
// While the node's sessions run, a marker file stands in the state directory; the clean end
// (everything withdrawn, Cease sent) removes it. Found at start, it means the previous process
// ended without withdrawing (a crash, SIGKILL, a lost machine), so peers that support graceful
// restart may still hold its routes, marked stale, until the End-of-RIB that follows our
// announcements: the R bit tells them not to wait for ours before sending theirs. Stale or
// missing, the marker costs nothing worse than an R bit the peer did not need, or none.
//
// Best effort: a state directory that cannot be written is logged and leaves the R bit unset.
#ifndef HOLDFAST_EDGE_BGP_RESTART_MARKER_H_
#define HOLDFAST_EDGE_BGP_RESTART_MARKER_H_

#include <filesystem>
#include <string_view>

namespace holdfast::edge {

class BgpRestartMarker {
 public:
  // The marker of node `node` in `state_dir` (one state directory may serve several nodes).
  BgpRestartMarker(const std::filesystem::path& state_dir, std::string_view node);

  // An earlier process of this node left its marker: it ended without withdrawing.
  bool Found() const;
  // The sessions are about to start (creates the directory if need be).
  void Set() const;
  // Everything was withdrawn: the next start is a clean one.
  void Clear() const;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_BGP_RESTART_MARKER_H_
