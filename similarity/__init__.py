"""Similarity engine: image loading, fingerprints, embeddings, FAISS indexes, matching, crawling."""
