"""TextWorld-style games (TextWorldExpress twc and cookingworld): their action grammar, placing by analogy and by
likeness, and how-to facts from instruction lines."""
