package dev.ds4j.sandbox;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A sandbox's root filesystem as read-only EROFS layer files, top first (DSec: Base + Workspace + Toolkits).
 * A process sandbox mounts the layers under an overlay whose writable upper belongs to that sandbox alone,
 * so its writes never reach a layer file, and {@link Sandbox#snapshot} packs the upper into a new layer to
 * put on top. Layer files must not change while a sandbox uses them; build them with {@link Layer}.
 *
 * @param layers absolute paths of the layer files, the topmost first
 */
public record Image(List<Path> layers) {

    public Image {
        if (layers == null || layers.isEmpty()) throw new IllegalArgumentException("an image needs at least one layer");
        List<Path> abs = new ArrayList<>();
        for (Path p : layers) {
            if (p == null) throw new IllegalArgumentException("null layer in " + layers);
            Path a = p.toAbsolutePath().normalize();
            if (abs.contains(a)) throw new IllegalArgumentException("layer " + a + " appears twice in " + layers);
            abs.add(a);
        }
        if (abs.size() > 128) throw new IllegalArgumentException("at most 128 layers, got " + abs.size());
        layers = List.copyOf(abs);
    }

    /** The image of these layers, topmost first. */
    public static Image of(Path... layersTopFirst) {
        return new Image(List.of(layersTopFirst));
    }

    /** This image with {@code layer} (a snapshot, a toolkit) put on top. */
    public Image with(Path layer) {
        List<Path> l = new ArrayList<>();
        l.add(layer);
        l.addAll(layers);
        return new Image(l);
    }
}
