package dev.ds4j.session;

import dev.ds4j.model.Model;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Snapshots of sessions keyed by the exact tokens they hold, so a request that starts with a cached
 * token sequence copies its state instead of computing it again. A V4 cache cannot be rewound (the
 * compressors have already pooled the tokens past any earlier point), so entries are snapshots taken at
 * chosen points, and a hit is the longest stored sequence that is a prefix of the new prompt. Entries are
 * evicted least-recently-used to stay within a byte budget; they can be saved to a directory and
 * loaded after a restart, guarded by the model's fingerprint.
 */
public final class PrefixCache {
    private static final String MAGIC = "DS4J-KV-SNAPSHOT";
    private static final int VERSION = 2;   // 2: KV entries as raw bytes of the cache's layout (named in the stream)

    private record Entry(int[] tokens, Session state) {
        long bytes() { return state.cacheBytes() + 4L * tokens.length; }
    }

    private final Model model;
    private final Session.Options options;
    private final long budget;
    /** Access-ordered: iteration starts at the least recently used entry. */
    private final LinkedHashMap<Key, Entry> entries = new LinkedHashMap<>(16, 0.75f, true);
    private long bytes, hits, misses, hitTokens, evictions;

    public PrefixCache(Model model, Session.Options options, long budgetBytes) {
        if (budgetBytes < 0) throw new IllegalArgumentException("prefix cache budget must be ≥ 0 bytes");
        if (options.mtp()) throw new IllegalArgumentException("the prefix cache holds sessions without MTP");
        this.model = model;
        this.options = options;
        this.budget = budgetBytes;
    }

    /**
     * Copies into {@code target} (a fresh session) the longest stored sequence that is a proper prefix of
     * {@code tokens}, leaving at least one token to compute, and returns its length (0 on a miss).
     */
    public synchronized int restoreLongest(int[] tokens, Session target) {
        Entry best = null;
        for (Entry e : entries.values())
            if (e.tokens.length < tokens.length && (best == null || e.tokens.length > best.tokens.length)
                    && Arrays.equals(e.tokens, 0, e.tokens.length, tokens, 0, e.tokens.length))
                best = e;
        if (best == null) {
            misses++;
            return 0;
        }
        entries.get(new Key(best.tokens)); // touch: most recently used
        target.copyFrom(best.state);
        hits++;
        hitTokens += best.tokens.length;
        return best.tokens.length;
    }

    /** Stores a copy of {@code session}, which must hold exactly {@code tokens}. Larger than the budget: not stored. */
    public void store(int[] tokens, Session session) {
        if (session.position() != tokens.length)
            throw new IllegalArgumentException("session holds " + session.position() + " tokens, not the " + tokens.length + " given");
        if (tokens.length == 0) return;
        Key key = new Key(tokens.clone());
        synchronized (this) {
            if (entries.containsKey(key)) {
                entries.get(key); // refresh its recency
                return;
            }
        }
        Session copy = new Session(model, options); // the copy is made outside the lock: it can be megabytes
        copy.copyFrom(session);
        put(new Entry(key.tokens, copy));
    }

    private synchronized void put(Entry e) {
        long b = e.bytes();
        if (b > budget || entries.containsKey(new Key(e.tokens))) return;
        entries.put(new Key(e.tokens), e);
        bytes += b;
        Iterator<Entry> it = entries.values().iterator();
        while (bytes > budget && it.hasNext()) {
            Entry old = it.next();
            it.remove();
            bytes -= old.bytes();
            evictions++;
        }
    }

    public record Stats(int entries, long bytes, long budget, long hits, long misses, long hitTokens, long evictions) {}

    public synchronized Stats stats() { return new Stats(entries.size(), bytes, budget, hits, misses, hitTokens, evictions); }

    /**
     * Writes every entry to {@code dir} (one file per entry, written to a temporary name and renamed, so a
     * crash never leaves a half-written snapshot under a real name) and removes snapshots no longer cached.
     * Returns the number of entries written.
     */
    public int save(Path dir) throws IOException {
        List<Entry> snapshot;
        synchronized (this) { snapshot = new ArrayList<>(entries.values()); }
        Files.createDirectories(dir);
        List<String> keep = new ArrayList<>();
        for (Entry e : snapshot) {
            String name = "prefix-" + Integer.toHexString(Arrays.hashCode(e.tokens)) + "-" + e.tokens.length + ".kv";
            keep.add(name);
            Path tmp = dir.resolve(name + ".tmp");
            try (DataOutputStream out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16))) {
                out.writeUTF(MAGIC);
                out.writeInt(VERSION);
                out.writeUTF(model.fingerprint());
                out.writeUTF(options.numerics().name());
                out.writeInt(options.indexTopk());
                out.writeInt(e.tokens.length);
                for (int t : e.tokens) out.writeInt(t);
                e.state.write(out);
            }
            Files.move(tmp, dir.resolve(name), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
        try (var files = Files.list(dir)) {
            for (Path p : files.toList()) {
                String n = p.getFileName().toString();
                if (n.startsWith("prefix-") && n.endsWith(".kv") && !keep.contains(n)) Files.delete(p);
            }
        }
        return snapshot.size();
    }

    /** What {@link #load} found: entries restored, and files skipped with the reason for each. */
    public record LoadReport(int loaded, Map<Path, String> skipped) {}

    /**
     * Loads the snapshots in {@code dir} made for this model and options. A file for other weights or
     * options, or a damaged one, is skipped and reported, never half-loaded.
     */
    public LoadReport load(Path dir) throws IOException {
        Map<Path, String> skipped = new LinkedHashMap<>();
        int loaded = 0;
        if (!Files.isDirectory(dir)) return new LoadReport(0, skipped);
        List<Path> files;
        try (var s = Files.list(dir)) {
            files = s.filter(p -> p.getFileName().toString().endsWith(".kv")).sorted().toList();
        }
        String fingerprint = model.fingerprint();
        for (Path p : files) {
            try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(p), 1 << 16))) {
                if (!MAGIC.equals(in.readUTF())) throw new IOException("not a ds4j KV snapshot");
                int v = in.readInt();
                if (v != VERSION) throw new IOException("snapshot format " + v + ", this build reads " + VERSION);
                if (!fingerprint.equals(in.readUTF())) throw new IOException("made for different weights");
                String numerics = in.readUTF();
                int topk = in.readInt();
                if (!numerics.equals(options.numerics().name()) || topk != options.indexTopk())
                    throw new IOException("made with numerics " + numerics + " / index_topk " + topk + ", the server runs "
                            + options.numerics() + " / " + options.indexTopk());
                int n = in.readInt();
                if (n <= 0 || n > model.config().maxPositions()) throw new IOException("token count " + n + " out of range");
                int[] tokens = new int[n];
                for (int i = 0; i < n; i++) tokens[i] = in.readInt();
                Session s = new Session(model, options);
                s.read(in);
                if (s.position() != n) throw new IOException("holds " + s.position() + " positions for " + n + " tokens");
                if (in.read() != -1) throw new IOException("trailing bytes");
                put(new Entry(tokens, s));
                loaded++;
            } catch (IOException | RuntimeException e) {
                skipped.put(p, e.getMessage() == null ? e.toString() : e.getMessage());
            }
        }
        return new LoadReport(loaded, skipped);
    }

    /** Token sequences as map keys, compared by content. */
    private record Key(int[] tokens) {
        @Override
        public boolean equals(Object o) { return o instanceof Key k && Arrays.equals(tokens, k.tokens); }

        @Override
        public int hashCode() { return Arrays.hashCode(tokens); }
    }
}
