"""Build the sandbox's own models in Blender and write them with Blender's exporters.

Three models, each built from an empty scene:

- "Painted Crate": a cube with a generated plank texture (an image made from
  pixels, saved as PNG).
- "Walking Figure": a box-built character skinned to a seven-bone armature, with
  one action ("Walk") that swings arms and legs over 24 frames.
- "Granite Boulder": a displaced icosphere with a generated stone texture.

Exporters run with their options passed explicitly, so a change of defaults in a
later Blender does not change the files.
"""

from __future__ import annotations

import logging
import math
import random
from pathlib import Path

import bmesh
import bpy
import numpy as np
from mathutils import Matrix, Quaternion, Vector

from .packing import ModelCounts

log = logging.getLogger(__name__)

# Pixels per side of a texture at each Poly Haven resolution name.
RESOLUTIONS = {"1k": 1024, "2k": 2048}


def reset_scene() -> None:
    """Empty the open file; preferences (such as online access) stay as they are."""
    bpy.ops.wm.read_homefile(use_empty=True)


# Textures


def _plank_pixels(size: int) -> np.ndarray:
    rows, columns = np.mgrid[0:size, 0:size]
    plank = (rows * 8 // size) % 2
    grain = 0.04 * np.sin(columns * (40.0 * math.pi / size) + rows * 0.01)
    pixels = np.ones((size, size, 4), dtype=np.float32)
    pixels[..., 0] = 0.55 + 0.08 * plank + grain
    pixels[..., 1] = 0.36 + 0.05 * plank + grain
    pixels[..., 2] = 0.18 + grain
    seams = (rows % (size // 8)) < max(2, size // 170)
    pixels[seams, :3] = (0.12, 0.08, 0.05)
    return pixels


def _stone_pixels(size: int) -> np.ndarray:
    generator = np.random.default_rng(7)
    coarse = generator.random((16, 16)).astype(np.float32)
    # Nearest-neighbour upscaling of coarse noise gives blotches, fine noise grain.
    blotches = np.kron(coarse, np.ones((size // 16, size // 16), dtype=np.float32))
    # Grain in 4 x 4 pixel cells keeps the PNG small enough to download quickly.
    fine = generator.random((size // 4, size // 4)).astype(np.float32)
    grain = np.kron(fine, np.ones((4, 4), dtype=np.float32))
    value = 0.35 + 0.25 * blotches + 0.15 * grain
    pixels = np.ones((size, size, 4), dtype=np.float32)
    pixels[..., 0] = value
    pixels[..., 1] = value * 0.97
    pixels[..., 2] = value * 0.92
    return pixels


def make_texture(name: str, pixels: np.ndarray, folder: Path) -> bpy.types.Image:
    """Create an image from ``pixels`` and save it as ``folder/<name>.png``, so every
    exporter finds a file behind it."""
    size = pixels.shape[0]
    image = bpy.data.images.new(name, size, size, alpha=False)
    image.pixels.foreach_set(pixels.ravel())
    folder.mkdir(parents=True, exist_ok=True)
    image.filepath_raw = str(folder / f"{name}.png")
    image.file_format = "PNG"
    image.save()
    return image


def _textured_material(name: str, image: bpy.types.Image, roughness: float):
    material = bpy.data.materials.new(name)
    material.use_nodes = True
    nodes = material.node_tree.nodes
    shader = nodes["Principled BSDF"]
    shader.inputs["Roughness"].default_value = roughness
    texture = nodes.new("ShaderNodeTexImage")
    texture.image = image
    material.node_tree.links.new(texture.outputs["Color"], shader.inputs["Base Color"])
    return material


def _plain_material(name: str, color: tuple[float, float, float]):
    material = bpy.data.materials.new(name)
    material.use_nodes = True
    material.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = (*color, 1.0)
    return material


def _link_object(name: str, data) -> bpy.types.Object:
    obj = bpy.data.objects.new(name, data)
    bpy.context.scene.collection.objects.link(obj)
    return obj


# Models


def build_crate(texture_name: str, texture_size: int, texture_folder: Path) -> None:
    """Build the crate: a 1 m cube with UVs and the plank texture."""
    reset_scene()
    mesh = bpy.data.meshes.new("Painted Crate")
    shape = bmesh.new()
    shape.loops.layers.uv.new("UVMap")
    bmesh.ops.create_cube(shape, size=1.0, calc_uvs=True)
    bmesh.ops.translate(shape, vec=(0.0, 0.0, 0.5), verts=shape.verts)
    shape.to_mesh(mesh)
    shape.free()

    image = make_texture(texture_name, _plank_pixels(texture_size), texture_folder)
    mesh.materials.append(_textured_material("Painted Wood", image, roughness=0.7))
    _link_object("Painted Crate", mesh)


def build_boulder(texture_name: str, texture_size: int, texture_folder: Path) -> None:
    """Build the boulder: an icosphere pushed in and out by seeded noise."""
    reset_scene()
    mesh = bpy.data.meshes.new("Granite Boulder")
    shape = bmesh.new()
    shape.loops.layers.uv.new("UVMap")
    bmesh.ops.create_icosphere(shape, subdivisions=3, radius=0.6, calc_uvs=True)
    generator = random.Random(11)
    for vertex in shape.verts:
        vertex.co *= 0.85 + 0.3 * generator.random()
        vertex.co.z *= 0.7
    bmesh.ops.translate(shape, vec=(0.0, 0.0, 0.4), verts=shape.verts)
    shape.to_mesh(mesh)
    shape.free()

    image = make_texture(texture_name, _stone_pixels(texture_size), texture_folder)
    mesh.materials.append(_textured_material("Granite", image, roughness=0.9))
    _link_object("Granite Boulder", mesh)


# Bone name -> (head, tail, parent)
FIGURE_BONES = {
    "Hips": ((0, 0, 0.9), (0, 0, 1.1), None),
    "Spine": ((0, 0, 1.1), (0, 0, 1.5), "Hips"),
    "Head": ((0, 0, 1.5), (0, 0, 1.85), "Spine"),
    "Arm.L": ((0.22, 0, 1.45), (0.72, 0, 1.45), "Spine"),
    "Arm.R": ((-0.22, 0, 1.45), (-0.72, 0, 1.45), "Spine"),
    "Leg.L": ((0.1, 0, 0.9), (0.1, 0, 0.05), "Hips"),
    "Leg.R": ((-0.1, 0, 0.9), (-0.1, 0, 0.05), "Hips"),
}

# Body part -> (centre, size, bone that moves it)
FIGURE_PARTS = (
    ((0, 0, 1.0), (0.38, 0.24, 0.22), "Hips"),
    ((0, 0, 1.3), (0.42, 0.26, 0.38), "Spine"),
    ((0, 0, 1.66), (0.28, 0.28, 0.3), "Head"),
    ((0.47, 0, 1.45), (0.5, 0.12, 0.12), "Arm.L"),
    ((-0.47, 0, 1.45), (0.5, 0.12, 0.12), "Arm.R"),
    ((0.1, 0, 0.46), (0.15, 0.15, 0.88), "Leg.L"),
    ((-0.1, 0, 0.46), (0.15, 0.15, 0.88), "Leg.R"),
)

FIGURE_FRAMES = 24


def build_figure() -> None:
    """Build the character: boxes weighted to an armature, and a walk cycle."""
    reset_scene()
    rig = _build_armature()
    body = _build_body()
    body.parent = rig
    modifier = body.modifiers.new("Armature", "ARMATURE")
    modifier.object = rig
    _animate_walk(rig)


def _build_armature() -> bpy.types.Object:
    armature = bpy.data.armatures.new("Figure Rig")
    rig = _link_object("Figure Rig", armature)
    bpy.context.view_layer.objects.active = rig
    bpy.ops.object.mode_set(mode="EDIT")
    for name, (head, tail, parent) in FIGURE_BONES.items():
        bone = armature.edit_bones.new(name)
        bone.head = Vector(head)
        bone.tail = Vector(tail)
        if parent:
            bone.parent = armature.edit_bones[parent]
    bpy.ops.object.mode_set(mode="OBJECT")
    return rig


def _build_body() -> bpy.types.Object:
    mesh = bpy.data.meshes.new("Figure Body")
    shape = bmesh.new()
    part_of_vertex: list[str] = []
    for centre, size, bone in FIGURE_PARTS:
        matrix = Matrix.Translation(centre) @ Matrix.Diagonal((*size, 1.0))
        created = bmesh.ops.create_cube(shape, size=1.0, matrix=matrix)
        part_of_vertex += [bone] * len(created["verts"])
    shape.to_mesh(mesh)
    shape.free()
    mesh.materials.append(_plain_material("Figure Paint", (0.2, 0.45, 0.8)))

    body = _link_object("Figure Body", mesh)
    # Each box follows one bone with full weight (rigid skinning).
    for bone in FIGURE_BONES:
        indices = [index for index, part in enumerate(part_of_vertex) if part == bone]
        body.vertex_groups.new(name=bone).add(indices, 1.0, "REPLACE")
    return body


def _animate_walk(rig: bpy.types.Object) -> None:
    scene = bpy.context.scene
    scene.frame_start = 1
    scene.frame_end = FIGURE_FRAMES
    swing = math.radians(30)
    # Bone -> sign of its swing in the first half of the cycle.
    swings = {"Arm.L": 1, "Arm.R": -1, "Leg.L": -1, "Leg.R": 1}
    for frame, phase in ((1, 1), (FIGURE_FRAMES // 2, -1), (FIGURE_FRAMES, 1)):
        for name, sign in swings.items():
            pose_bone = rig.pose.bones[name]
            pose_bone.rotation_mode = "QUATERNION"
            pose_bone.rotation_quaternion = Quaternion((1, 0, 0), sign * phase * swing)
            pose_bone.keyframe_insert("rotation_quaternion", frame=frame)
    rig.animation_data.action.name = "Walk"


# Exporters


def export_glb(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.export_scene.gltf(
        filepath=str(path),
        export_format="GLB",
        use_selection=False,
        export_animations=True,
        export_skins=True,
        export_apply=False,
    )


def export_gltf_separate(path: Path, texture_dir: str = "textures") -> None:
    """Write ``path`` (.gltf), its .bin beside it and images under ``texture_dir``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.export_scene.gltf(
        filepath=str(path),
        export_format="GLTF_SEPARATE",
        export_texture_dir=texture_dir,
        use_selection=False,
        export_animations=True,
        export_skins=True,
        export_apply=False,
    )


def export_fbx(path: Path) -> None:
    """Write binary FBX 7.4 whose texture paths are relative to the file.

    The images must already be files under ``path``'s folder for the relative paths
    to resolve after download.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.export_scene.fbx(
        filepath=str(path),
        use_selection=False,
        object_types={"ARMATURE", "MESH"},
        add_leaf_bones=False,
        bake_anim=True,
        bake_anim_use_all_actions=False,
        bake_anim_use_nla_strips=False,
        path_mode="RELATIVE",
        embed_textures=False,
    )


# Counting what an imported file contains


def count_fbx(path: Path) -> ModelCounts:
    """Import a binary FBX into an empty scene and count what it contains.

    Raises RuntimeError with the importer's message when Blender cannot read it.
    """
    reset_scene()
    bpy.ops.import_scene.fbx(filepath=str(path), use_anim=True, use_image_search=False)
    meshes = [obj.data for obj in bpy.data.objects if obj.type == "MESH"]
    counts = ModelCounts(
        face_count=sum(len(polygon.vertices) - 2 for mesh in meshes for polygon in mesh.polygons),
        vertex_count=sum(len(mesh.vertices) for mesh in meshes),
        texture_count=len(bpy.data.images),
        animation_count=len(bpy.data.actions),
        rigged=any(obj.type == "ARMATURE" for obj in bpy.data.objects),
    )
    reset_scene()
    return counts
