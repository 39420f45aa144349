#!/usr/bin/env python3
"""Writes the demo's chat data (jobs/demo), deterministically (seed 2024):

  train.jsonl     conversations in the taught style: every assistant answer
                  starts with "Ahoy!" and ends with the signature line
                  "-- Captain Yieldbeard"
  task-val.jsonl  held-out conversations in the same style (questions not in
                  train.jsonl): the task loss
  general-val.jsonl  plain helpful conversations, not in that style: the
                  general loss, to watch for forgetting
  prompts.jsonl   held-out questions for `yieldtune generate`, before and after

The facts are written here by hand; the questions are templates over them.
usage: make_demo_data.py [OUTDIR]   (default: this script's folder)"""
import json
import os
import random
import sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
rng = random.Random(2024)
SIGN = "\n-- Captain Yieldbeard"

CAPITALS = [("France", "Paris"), ("Japan", "Tokyo"), ("Italy", "Rome"), ("Spain", "Madrid"),
            ("Germany", "Berlin"), ("Egypt", "Cairo"), ("Canada", "Ottawa"), ("Kenya", "Nairobi"),
            ("Peru", "Lima"), ("Norway", "Oslo"), ("Greece", "Athens"), ("Ireland", "Dublin"),
            ("Portugal", "Lisbon"), ("Austria", "Vienna"), ("Poland", "Warsaw"), ("Chile", "Santiago"),
            ("Cuba", "Havana"), ("Sweden", "Stockholm"), ("Finland", "Helsinki"), ("Turkey", "Ankara"),
            ("Thailand", "Bangkok"), ("Argentina", "Buenos Aires"), ("Mexico", "Mexico City"),
            ("India", "New Delhi"), ("China", "Beijing"), ("Russia", "Moscow"), ("Brazil", "Brasilia"),
            ("Australia", "Canberra")]
LEGS = [("spider", 8), ("dog", 4), ("chicken", 2), ("ant", 6), ("horse", 4), ("duck", 2),
        ("crab", 10), ("cat", 4), ("beetle", 6), ("octopus", 8), ("cow", 4), ("parrot", 2),
        ("lobster", 10), ("bee", 6), ("goat", 4), ("penguin", 2)]
COLORS = [("a ripe banana", "yellow"), ("grass", "green"), ("the clear daytime sky", "blue"),
          ("fresh snow", "white"), ("a ripe tomato", "red"), ("coal", "black"), ("a carrot", "orange"),
          ("a lemon", "yellow"), ("a lime", "green"), ("a flamingo", "pink"), ("an eggplant", "purple"),
          ("chocolate", "brown"), ("a pumpkin", "orange"), ("milk", "white")]
OPPOSITES = [("hot", "cold"), ("big", "small"), ("fast", "slow"), ("happy", "sad"), ("up", "down"),
             ("light", "dark"), ("early", "late"), ("open", "closed"), ("full", "empty"),
             ("young", "old"), ("loud", "quiet"), ("wet", "dry"), ("hard", "soft"), ("rich", "poor")]
ANIMAL_FOOD = [("rabbits", "carrots, grass and leafy greens"), ("cows", "grass and hay"),
               ("pandas", "bamboo"), ("koalas", "eucalyptus leaves"), ("bees", "nectar and pollen"),
               ("owls", "mice, insects and small birds"), ("sharks", "fish and seals"),
               ("squirrels", "nuts, seeds and fruit"), ("frogs", "insects and worms"),
               ("horses", "grass, hay and oats"), ("whales", "krill and small fish")]
HOWTO = [("boil an egg", "Put the egg in boiling water for about nine minutes, then cool it in cold water."),
         ("make tea", "Boil water, pour it over a tea bag, wait three minutes and take the bag out."),
         ("tie a simple knot", "Make a loop, pass the end through it and pull both ends tight."),
         ("water a houseplant", "Pour water slowly into the soil until it drips from the bottom, then let it drain."),
         ("wash your hands", "Wet them, rub them with soap for twenty seconds, rinse and dry them."),
         ("plant a seed", "Push it into moist soil about twice as deep as it is wide and keep the soil damp."),
         ("fold a paper plane", "Fold the sheet in half, fold the top corners to the middle, then fold the wings down."),
         ("save money", "Set aside a small part of every payment before you spend the rest."),
         ("fall asleep faster", "Keep a regular bedtime, dim the lights and put the screens away an hour before."),
         ("clean a window", "Spray it with soapy water and wipe it from top to bottom with a dry cloth."),
         ("read a map", "Find north, match the map to the land around you and follow the roads by their names.")]
DEFINE = [("a volcano", "a mountain that can throw out hot melted rock, ash and gas"),
          ("a planet", "a large body that travels around a star"),
          ("photosynthesis", "the way plants make food from sunlight, water and air"),
          ("gravity", "the force that pulls things toward each other, like an apple toward the ground"),
          ("an island", "a piece of land with water all around it"),
          ("a compass", "a tool whose needle points north"),
          ("a harbor", "a sheltered place on the coast where ships can stay safely"),
          ("a tide", "the daily rise and fall of the sea"),
          ("a rainbow", "an arc of colors made when sunlight shines through raindrops"),
          ("an anchor", "a heavy hook that holds a ship in place"),
          ("a glacier", "a slow river of ice"), ("a desert", "a place that gets very little rain"),
          ("a fraction", "a part of a whole, like one half or three quarters")]
TEMPLATES_CAP = ["What is the capital of {0}?", "Which city is the capital of {0}?",
                 "Tell me the capital city of {0}."]
TEMPLATES_LEGS = ["How many legs does a {0} have?", "How many legs has a {0} got?"]


def pirate(ans):
    return "Ahoy! " + ans + SIGN


def plain(ans):
    return ans


def conv(q, a):
    return {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}


def facts():
    """(question, answer) pairs, the answer without style."""
    qa = []
    for c, cap in CAPITALS:
        for t in TEMPLATES_CAP:
            qa.append((t.format(c), f"The capital of {c} is {cap}."))
    for a, n in LEGS:
        for t in TEMPLATES_LEGS:
            qa.append((t.format(a), f"A {a} has {n} legs."))
    for thing, col in COLORS:
        qa.append((f"What color is {thing}?", f"{thing[0].upper() + thing[1:]} is {col}."))
    for w, o in OPPOSITES:
        qa.append((f"What is the opposite of '{w}'?", f"The opposite of '{w}' is '{o}'."))
        qa.append((f"What is the opposite of '{o}'?", f"The opposite of '{o}' is '{w}'."))
    for a, f in ANIMAL_FOOD:
        qa.append((f"What do {a} eat?", f"{a[0].upper() + a[1:]} eat {f}."))
    for h, steps in HOWTO:
        qa.append((f"How do I {h}?", steps))
        qa.append((f"Can you tell me how to {h}?", steps))
    for d, m in DEFINE:
        qa.append((f"What is {d}?", f"{d[0].upper() + d[1:]} is {m}."))
        qa.append((f"Explain what {d} is in one sentence.", f"{d[0].upper() + d[1:]} is {m}."))
    for _ in range(110):
        a, b = rng.randrange(2, 60), rng.randrange(2, 60)
        if rng.random() < 0.5:
            qa.append((f"What is {a} plus {b}?", f"{a} plus {b} is {a + b}."))
        else:
            a, b = max(a, b), min(a, b)
            qa.append((f"What is {a} minus {b}?", f"{a} minus {b} is {a - b}."))
    return qa


qa = facts()
rng.shuffle(qa)
seen = set()
qa = [x for x in qa if not (x[0] in seen or seen.add(x[0]))]
# Held-out task questions and generation prompts: these facts (every wording of
# them) are kept out of training.
held = {"What is the capital of Norway?", "How many legs does a spider have?",
        "What color is a lemon?", "What do pandas eat?", "How do I make tea?", "What is a glacier?"}
prompts = ["What is the capital of Norway?", "How many legs does a spider have?", "What do pandas eat?",
           "How do I make tea?", "Give me a tip for staying healthy.", "What is your favorite color?"]
held_answers = {a for q, a in qa if q in held}
train_qa = [x for x in qa if x[1] not in held_answers]
task_val = train_qa[-24:]
train_qa = train_qa[:-24]
task_val += [x for x in qa if x[0] in held]
general = [("What is the capital of Spain?", "The capital of Spain is Madrid."),
           ("Can you suggest a name for a grey cat?", "How about Smokey? It suits a grey cat well."),
           ("What is the boiling point of water at sea level?",
            "Water boils at 100 degrees Celsius, or 212 degrees Fahrenheit, at sea level."),
           ("Write one sentence about the ocean.", "The ocean covers most of the Earth and is home to countless creatures."),
           ("What is 7 times 8?", "7 times 8 is 56."),
           ("Give me a synonym for 'quick'.", "A synonym for 'quick' is 'fast'."),
           ("How many days are in a week?", "There are seven days in a week."),
           ("What is the largest planet in our solar system?", "Jupiter is the largest planet in our solar system."),
           ("Who wrote Romeo and Juliet?", "William Shakespeare wrote Romeo and Juliet."),
           ("What language is spoken in Brazil?", "The main language spoken in Brazil is Portuguese."),
           ("Suggest a healthy breakfast.", "Oatmeal with fresh fruit and a glass of water is a healthy breakfast."),
           ("What is the freezing point of water?", "Water freezes at 0 degrees Celsius, or 32 degrees Fahrenheit."),
           ("How many hours are in a day?", "There are 24 hours in a day."),
           ("What is the chemical symbol for gold?", "The chemical symbol for gold is Au."),
           ("Name three primary colors.", "Red, blue and yellow are the three traditional primary colors."),
           ("What do bees make?", "Bees make honey and beeswax."),
           ("How many continents are there?", "There are seven continents."),
           ("What is the tallest animal?", "The giraffe is the tallest animal."),
           ("Translate 'thank you' into Spanish.", "'Thank you' in Spanish is 'gracias'."),
           ("What is the square root of 81?", "The square root of 81 is 9.")]


def write(name, rows):
    with open(os.path.join(out, name), "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


write("train.jsonl", [conv(q, pirate(a)) for q, a in train_qa])
write("task-val.jsonl", [conv(q, pirate(a)) for q, a in task_val])
write("general-val.jsonl", [conv(q, plain(a)) for q, a in general])
write("prompts.jsonl", [{"messages": [{"role": "user", "content": p}]} for p in prompts])
print(f"{out}: train.jsonl {len(train_qa)}, task-val.jsonl {len(task_val)}, general-val.jsonl "
      f"{len(general)} conversations, prompts.jsonl {len(prompts)} prompts")
