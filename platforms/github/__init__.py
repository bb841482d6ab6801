"""GitHub (official REST API): find model files in repositories and download them.

There are two ways to find models:

- Code search (``GET /search/code``) needs a token. GitHub indexes only text files
  under 384 KB on the default branch, so it finds ``.gltf`` and ``.obj`` files but
  never GLB or binary FBX.
- A repository listing (``filters={"repo": "owner/name"}``) reads the repository's
  whole tree in one request (``GET /repos/{o}/{r}/git/trees/{ref}?recursive=1``) and
  keeps .glb, .gltf, .fbx and .obj files. It works without a token.

Files come from the contents API with ``Accept: application/vnd.github.raw``, which
serves files up to 100 MB. A file stored with Git LFS arrives as a small pointer file,
and its bytes come from GitHub's media host instead, checked against the pointer's
sha256 and size. A .gltf brings its buffers and images, and an .obj its material
libraries and their textures, from the same folder of the repository.

Asset ids look like ``owner/name:path/in/repo.gltf@ref``. Each repository has its own
licence, taken from the ``license.spdx_id`` that GitHub detected.
"""

from .client import GitHubClient

__all__ = ["GitHubClient"]
