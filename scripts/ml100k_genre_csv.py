#!/usr/bin/env python3
"""CSV (id, image, genre) of the ml100k posters of items with at least 5 ratings, for `image-probe --label genre`
(README, "Recommendation with images"): the first listed genre of each film, image paths absolute."""
import collections, csv, json, os, sys

root = sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets/ml100k-posters"
out = sys.argv[2] if len(sys.argv) > 2 else "ml100k-genres.csv"
items = json.load(open(os.path.join(root, "ml100k.item.json")))
lines = open(os.path.join(root, "ml100k.inter")).read().splitlines()[1:]
ratings = collections.Counter(line.split("\t")[1] for line in lines)
with open(out + ".tmp", "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["id", "image", "genre"])
    for key, item in items.items():
        if ratings[key] >= 5 and item.get("image") and item.get("genres"):
            writer.writerow([key, os.path.abspath(os.path.join(root, item["image"])), item["genres"][0]])
os.replace(out + ".tmp", out)
